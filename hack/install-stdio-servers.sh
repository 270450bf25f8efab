#!/usr/bin/env bash
# Install the packaged stdio MCP servers that the federation tests run, each in a virtualenv of its
# own (a packaged server brings its own dependencies, as it would in the category image), cached
# outside the repository. Prints the directory that holds one venv per server.
set -euo pipefail

CACHE="${TOOLMESH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/toolmesh}/stdio-servers"
PYTHON="${PYTHON:-python3}"
SERVERS=(
  "mcp-server-git==2026.10.19"   # the MCP project's reference git server: run against a real repository
  "mcp-proxy==0.13.0"            # a peer for bench/peers.py: the stdio-to-HTTP bridge many users run today
)

mkdir -p "$CACHE"
for spec in "${SERVERS[@]}"; do
  dir="$CACHE/${spec/==/-}"
  if [ -f "$dir/.complete" ]; then
    continue
  fi
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$spec"
  touch "$dir/.complete"
  echo "install-stdio-servers: $spec -> $dir" >&2
done
echo "$CACHE"
