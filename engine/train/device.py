"""Which device to train on, and the settings that make it fast there.

CUDA: mixed precision (bf16 where supported, else fp16 with a grad scaler), channels_last
for CNNs and cudnn.benchmark. CPU: fp32 and channels_last for CNNs (measured 30-75 %
faster on this project's machines). "auto" never fails: no GPU means CPU.
"""
from __future__ import annotations

import torch

from ..config import ConfigError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("A CUDA GPU was requested but none is available here; use --device cpu or auto.")
        return torch.device(name)
    if name == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ConfigError("Apple MPS was requested but is not available here; use --device cpu or auto.")
        return torch.device("mps")
    return torch.device("cpu")


def amp_dtype_for(device: torch.device):
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def configure(device: torch.device, deterministic: bool) -> None:
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def describe() -> list[dict]:
    """Devices for the engine's hello: name, kind and memory of each GPU, or the CPU."""
    out = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            out.append({"name": p.name, "kind": "cuda", "index": i, "memory_bytes": int(p.total_memory)})
    import os
    import platform

    out.append({"name": platform.processor() or platform.machine(), "kind": "cpu",
                "cores": os.cpu_count() or 1, "memory_bytes": 0})
    return out
