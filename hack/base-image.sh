#!/usr/bin/env bash
# Builds the images' Python base from Debian's packages, with no registry (none is reachable from
# these machines, nor from an air-gapped cluster's build host): mmdebstrap makes a minimal
# bookworm root with python3, it is imported as `local/python:3.11-bookworm` and cached as a tar
# outside the clone, keyed by its package list, so a rerun only re-imports it (or does nothing).
#
#   hack/base-image.sh            # prints the image name; TOOLMESH_CACHE (default ~/.cache/toolmesh)
#
# The root trusts the build host's CA certificates (added with update-ca-certificates), so pip
# inside `docker build` works behind the same TLS-inspecting proxy the host uses.
set -euo pipefail
CACHE="${TOOLMESH_CACHE:-$HOME/.cache/toolmesh}"
IMAGE="${BASE_IMAGE:-local/python:3.11-bookworm}"
DOCKER="${DOCKER:-/usr/bin/docker}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
PACKAGES="python3,python3-venv,python-is-python3,ca-certificates,usr-is-merged"
# merged /usr set up by mmdebstrap's hook and declared by usr-is-merged, as in Debian's own images;
# usrmerge, which the essential set pulls in first, is then purged with the perl it needs (47 MB).
HOOKS=/usr/share/mmdebstrap/hooks/merged-usr
key="$(printf '%s\n' "$(cat "$0")" "$MIRROR" "$SECURITY" "$(ls /usr/local/share/ca-certificates 2>/dev/null)" | sha256sum | cut -c1-12)"
TAR="$CACHE/images/base-bookworm-$key.tar"

if "$DOCKER" image inspect "$IMAGE" --format '{{index .Config.Labels "toolmesh.base"}}' 2>/dev/null | grep -qx "$key"; then
  echo "$IMAGE"; exit 0
fi
if [[ ! -s "$TAR" ]]; then
  command -v mmdebstrap >/dev/null || { echo "base-image: mmdebstrap is required (hack/node-deps.sh installs it)" >&2; exit 1; }
  mkdir -p "$(dirname "$TAR")"
  echo "base-image: building $IMAGE from Debian bookworm (~3 min once)" >&2
  sources="$(mktemp)"
  trap 'rm -f "$sources" "$TAR.tmp"' EXIT
  # Full deb lines: a bare mirror URL would look for `bookworm` on the security mirror.
  cat >"$sources" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY bookworm-security main
SOURCES
  mmdebstrap --quiet --format=tar --variant=minbase --include="$PACKAGES" \
    --customize-hook='if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/" && chroot "$1" update-ca-certificates >/dev/null; fi' \
    --customize-hook='chroot "$1" apt-get --yes --quiet --quiet purge usrmerge libfile-find-rule-perl libnumber-compare-perl libtext-glob-perl perl perl-modules-5.36 libperl5.36 >/dev/null' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/locale/*' \
    bookworm "$TAR.tmp" "$sources" >&2
  mv "$TAR.tmp" "$TAR"
fi
"$DOCKER" import --change 'CMD ["python3"]' --change "LABEL toolmesh.base=$key" "$TAR" "$IMAGE" >/dev/null
echo "$IMAGE"
