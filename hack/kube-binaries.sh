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
minor="0.${KUBE_VERSION#1.}"

# --- Kubernetes: a wrapper module that requires k8s.io/kubernetes and replaces each staging
# module (k8s.io/api, k8s.io/client-go, ...) with its published v0.Y.Z release.
mkdir -p "$work/k8s" && cd "$work/k8s"
go mod init toolmesh.dev/kube-binaries >/dev/null 2>&1
go mod download -json "k8s.io/kubernetes@v${KUBE_VERSION}" >"$work/k8s.json"
modfile="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["GoMod"])' "$work/k8s.json")"
go mod edit -require="k8s.io/kubernetes@v${KUBE_VERSION}"
for staging in $(sed -n 's#^\s*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$modfile"); do
  go mod edit -replace="${staging}=${staging}@v${minor}"
done
cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
echo "kube-binaries: resolving k8s.io/kubernetes v${KUBE_VERSION} modules" >&2
go mod tidy -e >&2 2>"$work/tidy.log" || true
for cmd in kube-apiserver kube-controller-manager kubectl; do
  echo "kube-binaries: building $cmd" >&2
  go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v${KUBE_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${KUBE_VERSION#1.}" \
    -o "$BIN/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
  mv "$BIN/$cmd.tmp" "$BIN/$cmd"
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
echo "kube-binaries: building etcd v${ETCD_VERSION}" >&2
go mod tidy >&2
go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" .
mv "$BIN/etcd.tmp" "$BIN/etcd"

have_all
echo "$BIN"
