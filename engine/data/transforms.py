"""Image -> tensor pipelines for training and evaluation (torchvision.transforms.v2).

Evaluation follows timm: resize the shorter side to input_size / crop_pct, then center
crop input_size. Training presets: "none" (the evaluation pipeline), "light" (random
resized crop, scale 0.7-1, plus horizontal flip), "standard" (light + small rotation and
colour jitter). Geometry runs on uint8 tensors (fast antialiased resize), then the image
is scaled to [0, 1] and normalized with the backbone's mean and std.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms import v2

DEFAULTS = {"input_size": 224, "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225),
            "interpolation": "bilinear", "crop_pct": 0.875}
AUGMENTS = ("none", "light", "standard")


def _interp(name) -> InterpolationMode:
    if isinstance(name, InterpolationMode):
        return name
    try:
        return InterpolationMode(str(name or "bilinear").lower())
    except ValueError:
        return InterpolationMode.BILINEAR


def _size(value) -> int:
    if isinstance(value, (list, tuple)):  # timm gives (C, H, W)
        return int(value[-1])
    return int(value)


class Geometry:
    """The one reading of a backbone's preprocess dict for images: sizes, resampling and the
    normalisation, plus the evaluation steps and the augmentations built from them. Used by the
    per-image transform below and by the training image cache (train/image_cache.py); the
    bundle's numpy copy (bundle/preprocessing.py) must stand alone and is kept equal by tests."""

    def __init__(self, preprocess: dict | None):
        pp = {**DEFAULTS, **{k: v for k, v in (preprocess or {}).items() if v is not None}}
        self.size = _size(pp["input_size"])
        self.interp = _interp(pp["interpolation"])
        crop_pct = float(pp["crop_pct"]) if pp["crop_pct"] else 1.0
        self.resize_to = math.floor(self.size / crop_pct)  # shorter side before the centre crop (timm)
        self.mean = [float(m) for m in pp["mean"]]
        self.std = [float(s) for s in pp["std"]]

    def eval_steps(self) -> list:
        """uint8 image -> the resized, centre-cropped uint8 image."""
        return [v2.Resize(self.resize_to, interpolation=self.interp, antialias=True), v2.CenterCrop(self.size)]

    def augmentation(self, augment: str, crop: int | None = None) -> list:
        """The training augmentation `augment` ("light", "standard") to crops of side `crop`."""
        if augment not in AUGMENTS or augment == "none":
            raise ValueError(f"augment must be one of {', '.join(AUGMENTS[1:])} here, not {augment!r}")
        steps: list = [v2.RandomResizedCrop(int(crop or self.size), scale=(0.7, 1.0), interpolation=self.interp,
                                            antialias=True),
                       v2.RandomHorizontalFlip()]
        if augment == "standard":
            steps += [v2.RandomRotation(10, interpolation=InterpolationMode.BILINEAR),
                      v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02)]
        return steps

    def to_float_steps(self) -> list:
        return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=self.mean, std=self.std)]


def image_transform(preprocess: dict, train: bool, augment: str = "light",
                    train_size: int | None = None) -> Callable:
    """A callable PIL.Image -> float tensor (3, S, S); `.input_size` tells S.

    `train_size`: the side of augmented training crops, when smaller than input_size."""
    if augment not in AUGMENTS:
        raise ValueError(f"augment must be one of {', '.join(AUGMENTS)}, not {augment!r}")
    g = Geometry(preprocess)
    size = g.size
    steps: list = [v2.ToImage()]
    if train and augment != "none":
        size = int(train_size or size)
        steps += g.augmentation(augment, size)
    else:
        steps += g.eval_steps()
    steps += [*g.to_float_steps(), v2.ToPureTensor()]  # a plain tensor, not a tv_tensors.Image subclass
    tf = v2.Compose(steps)
    tf.input_size = size
    return tf
