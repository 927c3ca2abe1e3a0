"""Backbone registry (plain data) and model building.

Importing this package, listing specs and locating weights import no torch, so the CLI
listing and the GUI stay fast; `build_model`, `build_tokenizer`, `model_from_config`
and `weights_info` import torch (and timm / torchvision / transformers) when called.
"""
from __future__ import annotations

from .locate import library_root, library_weights, locate_weights, missing_message, weights_status
from .registry import all_specs, default_spec, get_spec
from .spec import BackboneSpec, Stage, WeightsRef

__all__ = [
    "BackboneSpec", "Stage", "WeightsRef", "get_spec", "all_specs", "default_spec", "locate_weights",
    "library_root", "library_weights", "weights_status", "missing_message", "build_model", "build_tokenizer",
    "model_from_config", "weights_info", "stage_summary", "list_backbones",
]


def list_backbones(include_hidden: bool = False) -> list[dict]:
    """JSON-able registry listing: each spec's to_dict() plus "weights_available" and "weights_status"."""
    items = []
    for spec in all_specs(include_hidden):
        status = weights_status(spec)
        items.append({**spec.to_dict(), "weights_available": status["available"], "weights_status": status})
    return items


def build_model(spec, num_classes, weights="auto"):
    """See engine.backbones.build.build_model."""
    from .build import build_model as _impl
    return _impl(spec, num_classes, weights)


def build_tokenizer(spec, weights="auto"):
    """See engine.backbones.build.build_tokenizer."""
    from .build import build_tokenizer as _impl
    return _impl(spec, weights)


def model_from_config(spec, num_classes, hf_config=None, pooling=True):
    """See engine.backbones.build.model_from_config."""
    from .build import model_from_config as _impl
    return _impl(spec, num_classes, hf_config, pooling)


def weights_info(model):
    """See engine.backbones.build.weights_info."""
    from .build import weights_info as _impl
    return _impl(model)


def stage_summary(spec, k: int = 0):
    """See engine.backbones.build.stage_summary."""
    from .build import stage_summary as _impl
    return _impl(spec, k)
