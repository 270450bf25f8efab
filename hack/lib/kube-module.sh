# Sourced by hack/kube-binaries.sh and hack/node-binaries.sh: a Go module that builds commands of
# k8s.io/kubernetes from the Go module proxy (no other download site is reachable here).
#
#   kube_module DIR VERSION CMD...   # makes DIR a module able to `go build k8s.io/kubernetes/cmd/CMD`
#   kube_build DIR VERSION CMD OUT   # builds one command, statically, with its version stamped
#
# k8s.io/kubernetes replaces each staging module (k8s.io/api, k8s.io/client-go, ...) with a local
# folder; the wrapper requires it and replaces each staging module with its published v0.Y.Z.

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
    echo "kube-module: resolving k8s.io/kubernetes v${version} modules" >&2
    go mod tidy -e >"$dir/tidy.log" 2>&1 || true
  )
}

kube_build() {
  local dir="$1" version="$2" cmd="$3" out="$4"
  echo "kube-module: building $cmd v${version}" >&2
  (
    cd "$dir"
    CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}" go build -trimpath \
      -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v${version} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${version#1.}" \
      -o "$out.tmp" "k8s.io/kubernetes/cmd/$cmd"
  )
  mv "$out.tmp" "$out"
}
