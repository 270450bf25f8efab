#!/usr/bin/env bash
# Builds a real Kubernetes control plane for tests: kube-apiserver, kube-controller-manager and
# kubectl from k8s.io/kubernetes, and etcd from go.etcd.io/etcd/server/v3, all through the Go
# module proxy (no other download site is reachable here). The binaries are cached outside the
# clone, keyed by version, so a rerun is instant; a fresh machine builds them once (~10 min on
# 2 cores).
#
#   hack/kube-binaries.sh          # build if missing, print the bin directory
#
# Environment: KUBE_VERSION (default 1.37.2), ETCD_VERSION (default 3.6.16),
#              TOOLMESH_CACHE (default ~/.cache/toolmesh).
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
CACHE="${TOOLMESH_CACHE:-$HOME/.cache/toolmesh}"
BIN="$CACHE/kube/k8s-v${KUBE_VERSION}-etcd-v${ETCD_VERSION}/bin"
BINARIES=(kube-apiserver kube-controller-manager kubectl etcd)

have_all() {
  for b in "${BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || return 1; done
}

if have_all; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { echo "kube-binaries: Go is required (https://go.dev)" >&2; exit 1; }
export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$BIN"
# shellcheck source=lib/kube-module.sh
source "$(dirname "$0")/lib/kube-module.sh"

# --- Kubernetes: a wrapper module that requires k8s.io/kubernetes (hack/lib/kube-module.sh).
kube_module "$work/k8s" "$KUBE_VERSION" kube-apiserver kube-controller-manager kubectl
for cmd in kube-apiserver kube-controller-manager kubectl; do
  kube_build "$work/k8s" "$KUBE_VERSION" "$cmd" "$BIN/$cmd"
done

# --- etcd: the server's own entry point (etcdmain.Main) from a two-line main package.
mkdir -p "$work/etcd" && cd "$work/etcd"
go mod init toolmesh.dev/etcd-binary >/dev/null 2>&1
cat >main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
go mod edit -require="go.etcd.io/etcd/server/v3@v${ETCD_VERSION}"
with_heartbeat "kube-binaries: resolving etcd v${ETCD_VERSION} modules" go mod tidy >&2
with_heartbeat "kube-binaries: building etcd v${ETCD_VERSION}" go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp.$$" .
mv "$BIN/etcd.tmp.$$" "$BIN/etcd"

have_all
echo "$BIN"
