"""Checkpoints with no pickle: safetensors for tensors, JSON for everything else.

`checkpoints/last/` carries what resume needs (model, optimizer, scheduler, counters);
`checkpoints/best/` carries the model and its score. Each is written into a temp folder
and renamed into place, so a crash mid-save leaves the previous checkpoint intact.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ..atomic import atomic_dir, read_json, write_json


def state_dict_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}


def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state_dict into tensors (safetensors) and plain JSON."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    plain_state: dict[str, dict[str, Any]] = {}
    for idx, st in sd["state"].items():
        for name, value in st.items():
            if torch.is_tensor(value):
                tensors[f"{idx}.{name}"] = value.detach().to("cpu").contiguous()
            else:
                plain_state.setdefault(str(idx), {})[name] = value
    return tensors, {"param_groups": sd["param_groups"], "plain_state": plain_state}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    for idx, plain in meta.get("plain_state", {}).items():
        state.setdefault(int(idx), {}).update(plain)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(folder: str | Path, model: torch.nn.Module, state: dict[str, Any],
                    optimizer: torch.optim.Optimizer | None = None, scheduler=None,
                    tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """Write model (+ optimizer/scheduler) and `state` atomically into `folder`.

    `tensors` replaces the model's own state_dict (a blend of it, weight_blend.py).
    """
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        save_file(tensors if tensors is not None else state_dict_tensors(model), str(tmp / "model.safetensors"))
        if optimizer is not None:
            tensors, meta = _flatten_optimizer(optimizer)
            save_file(tensors, str(tmp / "optimizer.safetensors"))
            if scheduler is not None:
                meta["scheduler"] = {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}
            write_json(tmp / "optimizer.json", meta)
        write_json(tmp / "state.json", state)
    return folder


def load_model_weights(folder: str | Path, model: torch.nn.Module) -> None:
    sd = load_file(str(Path(folder) / "model.safetensors"))
    model.load_state_dict(sd, strict=True)


def load_state(folder: str | Path) -> dict[str, Any]:
    return read_json(Path(folder) / "state.json")


def load_optimizer(folder: str | Path, optimizer: torch.optim.Optimizer, scheduler=None) -> None:
    folder = Path(folder)
    meta = read_json(folder / "optimizer.json")
    tensors = load_file(str(folder / "optimizer.safetensors"))
    optimizer.load_state_dict(_unflatten_optimizer(tensors, meta))
    if scheduler is not None and "scheduler" in meta:
        sched_state = dict(scheduler.state_dict())
        sched_state.update(meta["scheduler"])
        scheduler.load_state_dict(sched_state)


def has_checkpoint(folder: str | Path) -> bool:
    folder = Path(folder)
    return (folder / "model.safetensors").is_file() and (folder / "state.json").is_file()
