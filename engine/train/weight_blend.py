"""WiSE-FT: the saved model is a blend of the fine-tuned weights and those fine-tuning began from.

Wortsman et al., "Robust fine-tuning of zero-shot models" (CVPR 2022): averaging, parameter by
parameter, a fine-tuned model with the model it started from keeps the pretrained features'
generality and the fine-tune's fit. Here the start is the pretrained backbone with the head
already fitted on its frozen features (LP-FT, head_warmup.py), so both ends classify the data
and so does the line between them; the blend is an ordinary model of the same architecture,
so the bundle, ONNX export and plain-torch loading do not change. It also damps the luck of
choosing an epoch on a tiny validation split: Fashion-MNIST 10 per class, 6 seeds, 73.2 ->
73.9 % (benchmarks/ACCURACY.md).

The start is written once (`checkpoints/<phase>-start.safetensors`) by the `WeightBlend`
callback, after the head warm-up, so a resumed run blends with the same weights as an
uninterrupted one.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..atomic import write_bytes
from .callbacks import Callback


def start_path(last: Path) -> Path:
    """Where a phase (checkpoints/last, checkpoints/refit) keeps the weights it started from."""
    return Path(last).parent / f"{Path(last).name}-start.safetensors"


def _floats(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()
            if v.is_floating_point()}


def save_start(model: torch.nn.Module, path: Path) -> dict[str, torch.Tensor]:
    """Write the model's floating-point tensors as they are now (atomically); returns them."""
    from safetensors.torch import save

    tensors = _floats(model)
    write_bytes(path, save(tensors))
    return tensors


def load_start(path: Path) -> dict[str, torch.Tensor] | None:
    """The saved start, or None when this phase did not keep one (e.g. a run without LP-FT)."""
    from safetensors.torch import load_file

    return load_file(str(path)) if Path(path).is_file() else None


def blended(model: torch.nn.Module, start: dict[str, torch.Tensor], share: float) -> dict[str, torch.Tensor]:
    """share * current + (1 - share) * start for every floating tensor both have; the rest as is."""
    out = {}
    for k, v in model.state_dict().items():
        v = v.detach().to("cpu")
        s = start.get(k)
        if s is not None and v.is_floating_point() and s.shape == v.shape:
            v = (share * v.float() + (1.0 - share) * s.float()).to(v.dtype)
        out[k] = v.contiguous()
    return out


class WeightBlend(Callback):
    """Keeps the weights the phase starts from (after the head warm-up: place it after HeadWarmup)
    and blends the saved model with them (`tensors`)."""

    def __init__(self, share: float, last: Path):
        self.share, self.path, self.start = float(share), start_path(last), None

    def on_fit_start(self, loop, state, resumed: bool) -> None:
        self.start = load_start(self.path) if resumed else save_start(loop.model, self.path)

    @property
    def active(self) -> bool:
        """False only for a resumed phase that kept no start (nothing to blend with)."""
        return self.start is not None

    def tensors(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        return blended(model, self.start, self.share)

    def state_dict(self) -> dict:
        return {"share": self.share, "start": self.path.name}
