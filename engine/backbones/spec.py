"""The plain-data description of a backbone (standard library only).

A BackboneSpec says everything the app needs to know about a pretrained model without
importing torch: how to build it, how its parameters group into freezable stages, how
its inputs are prepared, and where its weights may be found on this computer. The GUI
shows `to_dict()`; the training loop and the freezing code read the stages.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

MODALITIES = ("image", "text")
SOURCES = ("timm", "torchvision", "transformers")
WEIGHT_KINDS = ("package", "torch_hub", "hf_cache", "random")


@dataclass(frozen=True)
class Stage:
    """A named group of parameters, given as state_dict name prefixes.

    A prefix matches a parameter name that equals it or continues it after a dot, so
    "blocks.1" covers "blocks.1.0.conv.weight" but not "blocks.10...".
    """

    name: str
    prefixes: tuple[str, ...]

    def covers(self, param_name: str) -> bool:
        return any(param_name == p or param_name.startswith(p + ".") for p in self.prefixes)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "prefixes": list(self.prefixes)}


@dataclass(frozen=True)
class WeightsRef:
    """Where pretrained weights for a spec may already be on this computer.

    kind "package": a Python package ships the file (`module`, `getter` is the dotted
    attribute that returns its path); "torch_hub": a file named one of `filenames` in the
    torch hub cache; "hf_cache": a snapshot of one of `hf_repos` in the Hugging Face
    cache; "random": the entry has no pretrained weights (test entries). `url` is where
    the weights are published, for people on a connected machine; it is never fetched.
    `key_order` marks files whose tensor names differ from the model's but whose tensors
    match its state_dict one to one, in order.
    """

    kind: str
    package: str = ""
    module: str = ""
    getter: str = ""
    filenames: tuple[str, ...] = ()
    hf_repos: tuple[str, ...] = ()
    url: str = ""
    key_order: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["filenames"] = list(self.filenames)
        d["hf_repos"] = list(self.hf_repos)
        return d


@dataclass(frozen=True)
class BackboneSpec:
    """One registry entry. Treat the dict fields as read-only (`get_spec` hands out copies).

    num_params counts the backbone (all stages), not the classification head, whose size
    depends on the number of classes. `family` tells the builder which layer torchvision
    calls the classifier. `hf_config` is the complete architecture config of a
    transformers entry (model_type and sizes), so the model can be rebuilt without files.
    """

    id: str
    display_name: str
    modality: str
    source: str
    arch: str
    stages: tuple[Stage, ...]
    head: Stage
    preprocess: dict = field(hash=False)
    num_params: int
    license: str
    weights: WeightsRef
    description: str
    hidden: bool = False
    recommended_freeze: int = 0
    default_input_size: int | None = None
    min_input_size: int | None = None
    fixed_input_size: bool = False
    family: str = ""
    hf_config: dict = field(default_factory=dict, hash=False)
    pooling: str = "cls"  # text: "mean" for sentence-embedding models (engine.backbones.mean_pool)
    # image: the module whose output Grad-CAM weighs (engine.explain), a name from named_modules();
    # cam_reshape "tokens" turns a transformer's (batch, 1 + h*w, dim) tokens into a (batch, dim, h, w) grid
    cam_layer: str = ""
    cam_reshape: str = ""

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ValueError(f"{self.id}: modality must be one of {MODALITIES}")
        if self.source not in SOURCES:
            raise ValueError(f"{self.id}: source must be one of {SOURCES}")
        if self.weights.kind not in WEIGHT_KINDS:
            raise ValueError(f"{self.id}: weights kind must be one of {WEIGHT_KINDS}")
        if not 0 <= self.recommended_freeze <= len(self.stages):
            raise ValueError(f"{self.id}: recommended_freeze out of range")
        if self.modality == "image" and not self.cam_layer:
            raise ValueError(f"{self.id}: an image backbone needs cam_layer (the layer its explanations read)")
        if self.cam_reshape not in ("", "tokens"):
            raise ValueError(f"{self.id}: cam_reshape must be '' or 'tokens'")
        names = [s.name for s in self.stages] + [self.head.name]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.id}: stage names must be unique")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able copy (tuples become lists)."""
        return {
            "id": self.id,
            "display_name": self.display_name,
            "modality": self.modality,
            "source": self.source,
            "arch": self.arch,
            "stages": [s.to_dict() for s in self.stages],
            "head": self.head.to_dict(),
            "preprocess": copy.deepcopy(self.preprocess),
            "num_params": self.num_params,
            "license": self.license,
            "weights": self.weights.to_dict(),
            "description": self.description,
            "hidden": self.hidden,
            "recommended_freeze": self.recommended_freeze,
            "num_freeze_levels": len(self.stages),
            "default_input_size": self.default_input_size,
            "min_input_size": self.min_input_size,
            "fixed_input_size": self.fixed_input_size,
            "family": self.family,
            "hf_config": copy.deepcopy(self.hf_config),
            "cam_layer": self.cam_layer,
            "cam_reshape": self.cam_reshape,
        }
