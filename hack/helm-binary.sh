#!/usr/bin/env bash
# Builds helm from the Go module proxy into a cache outside the clone (once), prints its path.
#   hack/helm-binary.sh        # HELM_VERSION (default v3.22.0), TOOLMESH_CACHE (default ~/.cache/toolmesh)
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE="${TOOLMESH_CACHE:-$HOME/.cache/toolmesh}"
BIN="$CACHE/helm/$HELM_VERSION"
if [[ ! -x "$BIN/helm" ]]; then
  command -v go >/dev/null || { echo "helm-binary: Go is required" >&2; exit 1; }
  mkdir -p "$BIN"
  echo "helm-binary: building helm $HELM_VERSION" >&2
  GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0 GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}" >&2
fi
echo "$BIN/helm"
