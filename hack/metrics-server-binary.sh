#!/usr/bin/env bash
# Builds metrics-server (sigs.k8s.io/metrics-server, the resource metrics API behind every HPA's CPU
# and memory targets) from the Go module proxy, as its own Makefile does: static, version stamped in
# client-go's version package. Cached outside the clone, keyed by version, so a rerun is instant; a
# fresh machine builds it once (~4 min on 2 cores with a cold Go cache).
#
#   hack/metrics-server-binary.sh     # build if missing, print the bin directory
#
# Environment: METRICS_SERVER_VERSION (default 0.8.0), TOOLMESH_CACHE (default ~/.cache/toolmesh).
set -euo pipefail

METRICS_SERVER_VERSION="${METRICS_SERVER_VERSION:-0.8.0}"
CACHE="${TOOLMESH_CACHE:-$HOME/.cache/toolmesh}"
BIN="$CACHE/kube/metrics-server-v${METRICS_SERVER_VERSION}/bin"

if [[ -x "$BIN/metrics-server" ]]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { echo "metrics-server-binary: Go is required (https://go.dev)" >&2; exit 1; }
export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$BIN"

echo "metrics-server-binary: building metrics-server v${METRICS_SERVER_VERSION}" >&2
started=$SECONDS
pkg=k8s.io/client-go/pkg/version
GOBIN="$work/gobin" go install -trimpath \
  -ldflags "-s -w -X $pkg.gitVersion=v${METRICS_SERVER_VERSION} -X $pkg.gitMajor=0 -X $pkg.gitMinor=${METRICS_SERVER_VERSION#0.}" \
  "sigs.k8s.io/metrics-server/cmd/metrics-server@v${METRICS_SERVER_VERSION}" >&2
mv "$work/gobin/metrics-server" "$BIN/metrics-server"
echo "metrics-server-binary: built in $((SECONDS - started)) s" >&2
echo "$BIN"
