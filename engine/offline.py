"""Offline by construction: switch the Hugging Face libraries to local files only.

`huggingface_hub` and `transformers` read these variables once, when first imported,
so `enforce_offline_env()` must run before either is imported anywhere in the process.
It is idempotent and cheap (standard library only). The one part of the app allowed to
reach the network is `transfer-studio pack`, which calls `allow_network_for_pack()`
before it imports any Hugging Face module.
"""
from __future__ import annotations

import os
import sys

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "DO_NOT_TRACK": "1",
}

_HF_MODULES = ("huggingface_hub", "transformers", "timm", "datasets")


def enforce_offline_env() -> None:
    """Set the offline variables (overriding any user value) for this process and its children."""
    for key, value in OFFLINE_ENV.items():
        os.environ[key] = value
    _patch_loaded_hub_constants(True)


def is_offline_env() -> bool:
    return all(os.environ.get(k) == v for k, v in OFFLINE_ENV.items())


def hf_modules_loaded() -> list[str]:
    """Hugging Face modules already imported (they may have read the environment already)."""
    return [m for m in _HF_MODULES if m in sys.modules]


def allow_network_for_pack() -> None:
    """Undo the offline switch for `transfer-studio pack` (the only network user)."""
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.pop(key, None)
    _patch_loaded_hub_constants(False)


def _patch_loaded_hub_constants(offline: bool) -> None:
    """If huggingface_hub was imported before us, bring its cached flag in line too."""
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None and hasattr(constants, "HF_HUB_OFFLINE"):
        constants.HF_HUB_OFFLINE = offline
