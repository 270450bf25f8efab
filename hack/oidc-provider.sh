#!/usr/bin/env bash
# Installs the real authorization server of the `oidc` tests, npm's oidc-provider (a certified
# OpenID provider), from hack/oidc-provider/package-lock.json with `npm ci` into a cache outside the
# clone, keyed by its version and the lock file's digest. Idempotent and quick when cached. Prints
# the folder whose node_modules holds it (tests/e2e/oidc_provider.py starts
# hack/oidc-provider/server.mjs with it).
#
#   hack/oidc-provider.sh
#   TOOLMESH_CACHE=/path hack/oidc-provider.sh
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SOURCE="$HERE/oidc-provider"
VERSION="$(sed -n 's/.*"oidc-provider": "\([0-9.]*\)".*/\1/p' "$SOURCE/package.json")"
LOCK="$(sha256sum "$SOURCE/package-lock.json" | cut -c1-12)"
DIR="${TOOLMESH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/toolmesh}/oidc-provider-$VERSION-$LOCK"

if [ ! -f "$DIR/.complete" ]; then
  command -v node >/dev/null && command -v npm >/dev/null \
    || { echo "oidc-provider: Node.js 20 or later and npm are needed" >&2; exit 1; }
  rm -rf "$DIR" && mkdir -p "$DIR"
  cp "$SOURCE/package.json" "$SOURCE/package-lock.json" "$DIR/"
  (cd "$DIR" && npm ci --silent --ignore-scripts --no-audit --no-fund --omit=dev >/dev/null)
  touch "$DIR/.complete"
  echo "oidc-provider: $VERSION -> $DIR" >&2
fi
echo "$DIR"
