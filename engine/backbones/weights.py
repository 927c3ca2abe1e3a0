"""Read a weights file safely and fit it onto a built model, skipping the head.

Files are data, never code: safetensors is read with safetensors, anything else with
`torch.load(weights_only=True)`. A file that does not fit the backbone raises
WeightsError naming a few of the tensors that do not fit.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import WeightsError
from .spec import BackboneSpec

_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "module")


def _first_weights_file(folder: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return folder / name
    files = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".pth", ".pt", ".bin"))
    if len(files) == 1:
        return files[0]
    raise WeightsError(f"{folder} holds no single weights file (model.safetensors); name the file itself.")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors in a .safetensors / .pth / .pt / .bin file (or a folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = _first_weights_file(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            sd = load_file(str(path), device="cpu")
        else:
            sd = torch.load(str(path), weights_only=True, map_location="cpu")
    except Exception as exc:  # unpickling refusals, truncated files, foreign formats
        raise WeightsError(f"Could not read weights from {path.name}: it is not a plain tensor state dict "
                           "(save model.state_dict() or use .safetensors).", detail=repr(exc)) from exc
    for key in _WRAPPER_KEYS:
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
            break
    if not isinstance(sd, dict):
        raise WeightsError(f"{path.name} does not hold a state dict of named tensors.")
    sd = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    if not sd:
        raise WeightsError(f"{path.name} holds no tensors.")
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def _rename(sd: dict, target: dict, base_prefix: str, key_order: bool) -> dict:
    if set(sd) & set(target):
        return sd
    if base_prefix:
        prefixed = {f"{base_prefix}.{k}": v for k, v in sd.items()}
        if set(prefixed) & set(target):
            return prefixed
    if key_order and len(sd) == len(target):
        return dict(zip(target, sd.values()))
    return sd


def _few(keys: list[str], n: int = 3) -> str:
    more = f" and {len(keys) - n} more" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def fit_state_dict(model: torch.nn.Module, spec: BackboneSpec, sd: dict, source: str) -> dict:
    """Load `sd` into the backbone of `model` (head left as built); raise WeightsError if it does not fit.

    Returns {"loaded": n, "new_keys": [...head keys...], "ignored_keys": [...]}.
    """
    target = model.state_dict()
    base = getattr(model, "base_model_prefix", "") if spec.source == "transformers" else ""
    sd = _rename(sd, target, base, spec.weights.key_order)
    body = {k: v for k, v in sd.items() if not spec.head.covers(k)}
    missing = [k for k in target if not spec.head.covers(k) and k not in body
               and not k.endswith("num_batches_tracked")]
    wrong = [f"{k} {list(v.shape)} vs {list(target[k].shape)}" for k, v in body.items()
             if k in target and v.shape != target[k].shape]
    if wrong:
        raise WeightsError(f"The weights in {source} do not fit {spec.id}: {len(wrong)} tensor(s) have the wrong "
                           f"shape ({_few(wrong)}); choose the file made for {spec.display_name}.")
    if missing:
        raise WeightsError(f"The weights in {source} do not fit {spec.id}: {len(missing)} tensor(s) are missing "
                           f"({_few(missing)}); choose the file made for {spec.display_name}.")
    ignored = sorted(k for k in sd if k not in target or spec.head.covers(k))
    body = {k: v for k, v in body.items() if k in target}
    model.load_state_dict(body, strict=False)
    return {"loaded": len(body), "new_keys": [k for k in target if spec.head.covers(k)], "ignored_keys": ignored}
