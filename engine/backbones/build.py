"""Build the plain library model (timm / torchvision / transformers) for a spec.

The returned model is exactly what its library would build with the head sized to the
number of classes, so its state_dict loads with the library alone (that is how a saved
bundle is consumed). Weights are only ever read from disk; nothing is downloaded and no
code from a model folder is run (folders whose config names custom code are refused).
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import torch

from ..errors import BackboneError, WeightsError
from .locate import check_user_path, find_weights, is_hf_folder, missing_message
from .registry import TOKENIZER_FROM, get_spec
from .spec import BackboneSpec
from .weights import fit_state_dict, read_state_dict

INFO_ATTR = "_transfer_studio_weights"
# Config fields that decide a transformers model's parameter names and shapes.
_STRUCTURE_KEYS = ("model_type", "hidden_size", "num_hidden_layers", "dim", "n_layers")
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer_config.json")


def _check_classes(num_classes: int) -> None:
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise BackboneError(f"The number of classes must be a whole number of at least 1, not {num_classes!r}.")


@contextlib.contextmanager
def _quiet_transformers():
    """Keep transformers' load report and progress bars out of the engine's output."""
    from transformers.utils import logging as hf_logging
    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _refuse_custom_code(cfg: dict, where: str) -> None:
    if cfg.get("auto_map"):
        raise WeightsError(f"{where} asks to run its own code (auto_map); this app never runs code from model "
                           "files, so use a standard model folder.")


def _hf_config(spec: BackboneSpec, hf_config: dict | None, num_classes: int):
    from transformers import AutoConfig
    d = dict(hf_config if hf_config is not None else spec.hf_config)
    _refuse_custom_code(d, "This model config")
    model_type = d.pop("model_type", spec.hf_config.get("model_type"))
    if model_type != spec.hf_config.get("model_type"):
        raise WeightsError(f"This config is for a {model_type!r} model, but {spec.id} is a "
                           f"{spec.hf_config.get('model_type')!r} model.")
    for key in ("transformers_version", "architectures", "_name_or_path", "num_labels"):
        d.pop(key, None)
    config = AutoConfig.for_model(model_type, **d)
    config.num_labels = num_classes
    return config


def model_from_config(spec: BackboneSpec, num_classes: int, hf_config: dict | None = None,
                      pooling: bool = True) -> torch.nn.Module:
    """The architecture with random init and a `num_classes` head; no files needed.

    Works under `with torch.device("meta"):` for cheap inspection of large entries.
    `hf_config` (a transformers config as a dict, e.g. a run's hf_config.json) overrides
    the registry's architecture config for transformers entries and is taken as it is;
    from the registry's config, entries with `pooling="mean"` get their mean-pooling layer
    (engine.backbones.mean_pool) unless `pooling` is False (the pretrained files' layout).
    """
    _check_classes(num_classes)
    if spec.source == "timm":
        import timm
        return timm.create_model(spec.arch, pretrained=False, num_classes=num_classes)
    if spec.source == "torchvision":
        import torchvision
        return torchvision.models.get_model(spec.arch, weights=None, num_classes=num_classes)
    from transformers import AutoModelForSequenceClassification
    with _quiet_transformers():
        model = AutoModelForSequenceClassification.from_config(_hf_config(spec, hf_config, num_classes))
    if pooling and hf_config is None:
        _add_pooling(spec, model)
    return model


def _add_pooling(spec: BackboneSpec, model: torch.nn.Module) -> None:
    if spec.pooling == "mean":
        from .mean_pool import add_mean_pool_layer
        add_mean_pool_layer(model)


def _read_config(folder: Path) -> dict:
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{folder / 'config.json'} cannot be read as JSON; the model folder looks damaged.") from exc


def _check_hf_folder(spec: BackboneSpec, folder: Path) -> None:
    cfg = _read_config(folder)
    _refuse_custom_code(cfg, str(folder))
    for key in _STRUCTURE_KEYS:
        if key in spec.hf_config and cfg.get(key) != spec.hf_config[key]:
            raise WeightsError(f"The model in {folder} does not fit {spec.id}: its {key} is {cfg.get(key)!r}, "
                               f"not {spec.hf_config[key]!r}; choose the backbone this folder was made for.")


def _reinit(model: torch.nn.Module, spec: BackboneSpec) -> None:
    """Fresh head weights, drawn the way transformers initialises a new classifier."""
    std = getattr(model.config, "initializer_range", 0.02)
    with torch.no_grad():
        for name, module in model.named_modules():
            if not (name and spec.head.covers(name)):
                continue
            if isinstance(module, torch.nn.Linear):
                module.weight.normal_(0.0, std)
                if module.bias is not None:
                    module.bias.zero_()
            elif hasattr(module, "reset_parameters"):
                module.reset_parameters()


def _hf_pretrained(spec: BackboneSpec, folder: Path, num_classes: int) -> tuple[torch.nn.Module, dict]:
    from transformers import AutoModelForSequenceClassification
    _check_hf_folder(spec, folder)
    try:
        with _quiet_transformers():
            model, info = AutoModelForSequenceClassification.from_pretrained(
                str(folder), num_labels=num_classes, local_files_only=True, dtype=torch.float32,
                output_loading_info=True, ignore_mismatched_sizes=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"Could not load the model folder {folder}: {str(exc).splitlines()[0]}",
                           detail=repr(exc)) from exc
    mismatched = sorted(str(k[0] if isinstance(k, tuple) else k) for k in info.get("mismatched_keys", ()))
    bad = sorted(k for k in info.get("missing_keys", ()) if not spec.head.covers(k))
    bad += [k for k in mismatched if not spec.head.covers(k)]
    if bad:
        raise WeightsError(f"The weights in {folder} do not fit {spec.id}: {len(bad)} tensor(s) are missing or "
                           f"the wrong shape ({', '.join(bad[:3])}); choose the folder made for this backbone.")
    new = sorted(k for k in model.state_dict() if spec.head.covers(k))
    if set(new) - set(info.get("missing_keys", ())):
        _reinit(model, spec)  # a fine-tuned folder's old head: start the head afresh
    _add_pooling(spec, model)
    return model, {"loaded": len(model.state_dict()) - len(new), "new_keys": new,
                   "ignored_keys": sorted(info.get("unexpected_keys", ()))}


def build_model(spec: BackboneSpec, num_classes: int, weights: str | os.PathLike | None = "auto") -> torch.nn.Module:
    """The plain library model with a `num_classes` head and pretrained backbone weights.

    weights: "auto" = the weights found on this computer (test entries: random init;
    nothing found: WeightsError "weights missing: ..."); a path = that file or HF folder;
    None = random init. `weights_info(model)` tells what was loaded.
    """
    _check_classes(num_classes)
    if weights is None:
        found = None
    elif isinstance(weights, str) and weights == "auto":
        found = find_weights(spec)
        if found is None and spec.weights.kind != "random":
            raise WeightsError(missing_message(spec))
    else:
        found = ("file", check_user_path(weights))
    if found is None:
        model = model_from_config(spec, num_classes)
        info = {"kind": "random", "path": None, "loaded": 0, "new_keys": [], "ignored_keys": []}
    else:
        where, path = found
        if spec.source == "transformers" and is_hf_folder(path):
            model, loaded = _hf_pretrained(spec, path, num_classes)
        else:
            model = model_from_config(spec, num_classes, pooling=False)
            loaded = fit_state_dict(model, spec, read_state_dict(path), source=path.name)
            if spec.source == "transformers":
                _add_pooling(spec, model)
        info = {"kind": where, "path": str(path), **loaded}
    model.__dict__[INFO_ATTR] = info
    return model


def weights_info(model: torch.nn.Module) -> dict:
    """What build_model loaded: kind ("package"|"library"|"file"|"torch_hub"|"hf_cache"|"random"), path, keys."""
    return dict(model.__dict__.get(INFO_ATTR, {"kind": "unknown", "path": None}))


def _tokenizer_folder(spec: BackboneSpec, weights) -> Path | None:
    if weights is not None and not (isinstance(weights, str) and weights == "auto"):
        path = check_user_path(weights)
        if path.is_dir() and any((path / f).is_file() for f in _TOKENIZER_FILES):
            return path
    for candidate in (spec, get_spec(TOKENIZER_FROM[spec.id]) if spec.id in TOKENIZER_FROM else None):
        found = find_weights(candidate) if candidate is not None else None
        if found and found[1].is_dir() and any((found[1] / f).is_file() for f in _TOKENIZER_FILES):
            return found[1]
    return None


def build_tokenizer(spec: BackboneSpec, weights: str | os.PathLike | None = "auto"):
    """The Hugging Face tokenizer of a text backbone, read from local files only."""
    if spec.modality != "text":
        raise BackboneError(f"{spec.id} is an image backbone; it has no tokenizer.")
    folder = _tokenizer_folder(spec, weights)
    if folder is None:
        raise WeightsError(missing_message(spec).replace("pretrained weights", "tokenizer files", 1))
    tok_cfg = folder / "tokenizer_config.json"
    if tok_cfg.is_file():
        try:
            _refuse_custom_code(json.loads(tok_cfg.read_text(encoding="utf-8")), str(tok_cfg))
        except ValueError as exc:
            raise WeightsError(f"{tok_cfg} cannot be read as JSON; the model folder looks damaged.") from exc
    from transformers import AutoTokenizer
    with _quiet_transformers():
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def stage_summary(spec: BackboneSpec, k: int = 0) -> tuple[list[dict], int]:
    """([{name, params, trainable, prefixes}] per stage with the first k frozen, head last; total params).

    Counted on a weightless (meta) model, so it is cheap even for large entries: nothing is
    allocated or read from disk (a builder that cannot run on meta gets a random init). The
    head is sized for two classes. The engine's describe_backbone reply is this."""
    from ..freezing import stage_param_counts
    try:
        with torch.device("meta"):
            model = model_from_config(spec, 2)
    except Exception:  # noqa: BLE001 - some builders cannot run on meta; a random init counts the same
        model = model_from_config(spec, 2)
    prefixes = {s.name: list(s.prefixes) for s in (*spec.stages, spec.head)}
    rows = [dict(row, prefixes=prefixes.get(row["name"], [])) for row in stage_param_counts(model, spec, k)]
    return rows, int(sum(p.numel() for p in model.parameters()))
