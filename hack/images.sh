#!/usr/bin/env bash
# Builds the project's images without a registry: the Python base from Debian's packages
# (hack/base-image.sh), then the Dockerfile's targets, tagged <repository>-<target>:<tag> as the chart
# names them (values image.repository and image.tag). Prints the tags on stdout, one a line; the
# builds' output goes to stderr.
#
#   hack/images.sh [TARGET...]      # default: gateway operator category demo
#
#   TOOLMESH_IMAGE_REPOSITORY  default ghcr.io/toolmesh/toolmesh (the chart's registry and repository)
#   TOOLMESH_IMAGE_TAG         default dev
#   DOCKER                     default /usr/bin/docker (Debian's docker.io; a newer CLI may come first on PATH)
#   DOCKER_BUILDKIT            default 1; 0 builds with the legacy builder (both work)
#
# A target whose inputs (the files .dockerignore lets into the context, the Dockerfile, the base
# image) did not change since its image was built is not built again: the image carries their digest
# as the label toolmesh.inputs. Anything else is left to Docker's layer cache: the dependency layers
# are kept when only the source changed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DOCKER="${DOCKER:-/usr/bin/docker}"
[[ -x "$DOCKER" ]] || DOCKER="$(command -v docker)"
export DOCKER DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-1}"
REPOSITORY="${TOOLMESH_IMAGE_REPOSITORY:-ghcr.io/toolmesh/toolmesh}"
TAG="${TOOLMESH_IMAGE_TAG:-dev}"
if [[ $# -gt 0 ]]; then targets=("$@"); else targets=(gateway operator category demo); fi

base="$("$ROOT/hack/base-image.sh" | tail -n 1)"
base_id="$("$DOCKER" image inspect --format '{{.Id}}' "$base")"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/pyproject.toml" | head -n 1)"

# The build context is what .dockerignore allows (its `!` lines), less caches.
cd "$ROOT"
shopt -s nullglob
paths=(Dockerfile .dockerignore)
while read -r pattern; do
  # shellcheck disable=SC2206 # a pattern may be a glob (LICENSE*)
  paths+=(${pattern%/})
done < <(sed -n 's/^!//p' .dockerignore)
inputs="$(
  {
    printf '%s\n' "$base_id" "$version"
    find "${paths[@]}" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
)"

for target in "${targets[@]}"; do
  ref="$REPOSITORY-$target:$TAG"
  if [[ "$("$DOCKER" image inspect --format '{{index .Config.Labels "toolmesh.inputs"}}' "$ref" 2>/dev/null)" == "$inputs" ]]; then
    echo "images: $ref is up to date" >&2
  else
    echo "images: building $ref" >&2
    started=$SECONDS
    "$DOCKER" build --target "$target" --tag "$ref" \
      --build-arg "PYTHON_IMAGE=$base" --build-arg "VERSION=$version" \
      --label "toolmesh.inputs=$inputs" "$ROOT" >&2
    echo "images: $ref built in $((SECONDS - started)) s ($("$DOCKER" image inspect --format '{{.Size}}' "$ref" | awk '{printf "%.0f MB", $1 / 1e6}'))" >&2
  fi
  echo "$ref"
done
