"""Rebuild a trained model from a run directory (model.json + a checkpoint's safetensors).

Evaluation, the bundle writer and the Predictor all load models through here, so there
is one place that knows the run-directory format. Models are the plain library models
(timm / torchvision / Hugging Face), rebuilt from `source` + `arch` with no pretrained
download, then filled from the checkpoint with a strict load.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import BundleError

RUN_MODEL_FORMAT = "transfer-studio-run-model"
RUN_MODEL_VERSION = 1


def read_run_meta(run_dir: str | Path) -> dict:
    """model.json of a run, checked for format and version."""
    path = Path(run_dir) / "model.json"
    if not path.is_file():
        raise BundleError(f"{run_dir} is not a training run: it has no model.json; pick the run's folder under runs/.")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BundleError(f"{path} is not valid JSON; the run is damaged, so train it again.") from exc
    if meta.get("format") != RUN_MODEL_FORMAT:
        raise BundleError(f"{path} is not a Transfer Studio model description; pick the run's folder under runs/.")
    if int(meta.get("version", 0)) > RUN_MODEL_VERSION:
        raise BundleError(f"{path} was written by a newer Transfer Studio (format {meta.get('version')}); update the app to open it.")
    return meta


def checkpoint_dir(run_dir: str | Path, which: str = "best") -> Path:
    """checkpoints/<which>/ holding model.safetensors; "best" falls back to "last"."""
    run_dir = Path(run_dir)
    order = [which] + (["last"] if which == "best" else [])
    for kind in order:
        d = run_dir / "checkpoints" / kind
        if (d / "model.safetensors").is_file():
            return d
    raise BundleError(f"{run_dir} has no saved {which} checkpoint (checkpoints/{which}/model.safetensors); "
                      "the run ended before its first epoch finished, so train it again.")


def _hf_config(d: dict, classes: list[str]):
    from transformers import AutoConfig

    d = dict(d)
    model_type = d.pop("model_type", None)
    if not model_type:
        raise BundleError("The saved text-model configuration names no model_type; train the run again.")
    for k in ("id2label", "label2id", "num_labels", "_name_or_path", "transformers_version", "architectures"):
        d.pop(k, None)
    cfg = AutoConfig.for_model(model_type, **d)
    cfg.num_labels = len(classes)
    cfg.id2label = {i: c for i, c in enumerate(classes)}
    cfg.label2id = {c: i for i, c in enumerate(classes)}
    return cfg


def plain_model(source: str, arch: str, num_classes: int, hf_config: dict | None = None,
                classes: list[str] | None = None):
    """The bare library model with a `num_classes` head, randomly initialised (no download)."""
    if source == "timm":
        import timm

        return timm.create_model(arch, pretrained=False, num_classes=num_classes)
    if source == "torchvision":
        import torchvision

        return torchvision.models.get_model(arch, weights=None, num_classes=num_classes)
    if source == "transformers":
        from transformers import AutoModelForSequenceClassification

        if hf_config is None:
            raise BundleError("A text model needs its saved configuration (hf_config.json); train the run again.")
        cfg = _hf_config(hf_config, classes or [str(i) for i in range(num_classes)])
        return AutoModelForSequenceClassification.from_config(cfg)
    raise BundleError(f"Unknown model source {source!r}; this run was made by a different version of the app.")


def _registry_model(meta: dict, hf_config: dict | None):
    """The registry's `model_from_config` (random init, no files), or None for an unknown id."""
    from . import backbones
    from .errors import BackboneError

    try:
        spec = backbones.get_spec(meta["backbone"])
    except BackboneError:  # e.g. an entry this version no longer has: the plain build still works
        return None
    return backbones.model_from_config(spec, int(meta["num_classes"]), hf_config)


def build_model_for(meta: dict, hf_config: dict | None = None):
    """An untrained model shaped like the run's: registry first, plain library build otherwise."""
    model = _registry_model(meta, hf_config)
    if model is None:
        model = plain_model(meta["source"], meta["arch"], int(meta["num_classes"]), hf_config, meta.get("classes"))
    if meta.get("modality") == "text":
        classes = list(meta["classes"])
        model.config.id2label = {i: c for i, c in enumerate(classes)}
        model.config.label2id = {c: i for i, c in enumerate(classes)}
    return model


def load_weights(model, path: str | Path) -> None:
    """Strictly fill `model` from a safetensors state_dict; mismatches name the file."""
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except Exception as exc:
        raise BundleError(f"Could not read the weights in {path} ({exc}); the file is damaged.") from exc
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise BundleError(f"The weights in {path} do not fit the model they were saved for; "
                          "the run or bundle is damaged or from another version.", str(exc)) from exc


def load_model_from_run(run_dir: str | Path, which: str = "best") -> tuple[Any, dict]:
    """(model in eval mode on CPU, meta) where meta is model.json plus what loading learned.

    meta adds "checkpoint" (the folder used), "checkpoint_state" (its state.json or {}),
    and for text "tokenizer" (a Hugging Face tokenizer), "tokenizer_dir", "hf_config".
    """
    run_dir = Path(run_dir)
    meta = dict(read_run_meta(run_dir))
    ckpt = checkpoint_dir(run_dir, which)
    hf_config = None
    if meta.get("modality") == "text":
        cfg_path = run_dir / "hf_config.json"
        if not cfg_path.is_file():
            raise BundleError(f"{run_dir} is a text run without hf_config.json; train it again.")
        hf_config = json.loads(cfg_path.read_text(encoding="utf-8"))
    model = build_model_for(meta, hf_config)
    load_weights(model, ckpt / "model.safetensors")
    model.eval()
    meta["checkpoint"] = str(ckpt)
    state_path = ckpt / "state.json"
    meta["checkpoint_state"] = json.loads(state_path.read_text(encoding="utf-8")) if state_path.is_file() else {}
    if meta.get("modality") == "text":
        from transformers import AutoTokenizer

        tok_dir = run_dir / "tokenizer"
        if not tok_dir.is_dir():
            raise BundleError(f"{run_dir} is a text run without its tokenizer/ folder; train it again.")
        meta["tokenizer"] = AutoTokenizer.from_pretrained(str(tok_dir), local_files_only=True)
        meta["tokenizer_dir"] = str(tok_dir)
        meta["hf_config"] = hf_config
    return model, meta
