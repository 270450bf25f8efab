# Sourced by hack/kube-binaries.sh and hack/node-binaries.sh: a Go module that builds commands of
# k8s.io/kubernetes from the Go module proxy (no other download site is reachable here).
#
#   kube_module DIR VERSION CMD...   # makes DIR a module able to `go build k8s.io/kubernetes/cmd/CMD`
#   kube_build DIR VERSION CMD OUT   # builds one command, statically, with its version stamped
#
# k8s.io/kubernetes replaces each staging module (k8s.io/api, k8s.io/client-go, ...) with a local
# folder; the wrapper requires it and replaces each staging module with its published v0.Y.Z.
# Each slow step (resolving the modules, each build) says so with a heartbeat (hack/lib/progress.sh).

# shellcheck source=progress.sh
source "$(dirname "${BASH_SOURCE[0]}")/progress.sh"

kube_module() {
  local dir="$1" version="$2"
  shift 2
  local minor="0.${version#1.}" modfile staging cmd
  mkdir -p "$dir"
  (
    cd "$dir"
    go mod init toolmesh.dev/kube-binaries >/dev/null 2>&1
    go mod download -json "k8s.io/kubernetes@v${version}" >"$dir/k8s.json"
    modfile="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["GoMod"])' "$dir/k8s.json")"
    go mod edit -require="k8s.io/kubernetes@v${version}"
    for staging in $(sed -n 's#^\s*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$modfile"); do
      go mod edit -replace="${staging}=${staging}@v${minor}"
    done
    {
      printf '//go:build tools\n\npackage tools\n\nimport (\n'
      for cmd in "$@"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$cmd"; done
      printf ')\n'
    } >tools.go
    with_heartbeat "kube-module: resolving k8s.io/kubernetes v${version} modules" \
      bash -c 'go mod tidy -e >"$1" 2>&1' _ "$dir/tidy.log" || true
  )
}

kube_build() {
  local dir="$1" version="$2" cmd="$3" out="$4"
  CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}" with_heartbeat "kube-module: building $cmd v${version}" \
    go -C "$dir" build -trimpath \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v${version} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${version#1.}" \
    -o "$out.tmp.$$" "k8s.io/kubernetes/cmd/$cmd"
  mv "$out.tmp.$$" "$out"
}
