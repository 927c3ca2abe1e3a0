"""Grad-CAM maps for image models, through captum's LayerGradCam (Selvaraju et al. 2017).

captum is the one kept library for both kinds of explanation here (its LayerIntegratedGradients
does the text side), so no second dependency such as `grad-cam` (which pulls in OpenCV). The
layer comes from the backbone registry (`BackboneSpec.cam_layer`): the last convolutional
stage of a CNN. A vision transformer's tokens are turned into a grid by `TokensToGrid`, put
in a copy of the model around its target layer, so LayerGradCam sees an ordinary feature map.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn


class TokensToGrid(nn.Module):
    """Wraps a layer whose output is (batch, 1 + h*w, dim) tokens: its `grid` child sees them as
    (batch, dim, h, w) patches (the class token set aside), and the tokens continue unchanged."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner
        self.grid = nn.Identity()

    def forward(self, x):
        tokens = self.inner(x)
        cls, patches = tokens[:, :1], tokens[:, 1:]
        side = int(round(patches.shape[1] ** 0.5))
        grid = self.grid(patches.transpose(1, 2).reshape(patches.shape[0], patches.shape[2], side, side))
        return torch.cat([cls, grid.flatten(2).transpose(1, 2)], dim=1)


def find_layer(model: nn.Module, name: str) -> nn.Module:
    modules = dict(model.named_modules())
    if name not in modules:
        raise KeyError(f"the model has no layer named {name!r}")
    return modules[name]


def cam_target(model: nn.Module, layer: str, reshape: str = "") -> tuple[nn.Module, nn.Module]:
    """(model to run, module whose output Grad-CAM reads); a copy of the model when reshaping."""
    if reshape != "tokens":
        return model, find_layer(model, layer)
    model = copy.deepcopy(model)
    parent_name, _, child = layer.rpartition(".")
    parent = find_layer(model, parent_name) if parent_name else model
    wrapped = TokensToGrid(getattr(parent, child))
    setattr(parent, child, wrapped)
    return model, wrapped.grid


def grad_cam(model: nn.Module, layer_module: nn.Module, x: torch.Tensor, target: int) -> np.ndarray:
    """The Grad-CAM map of class `target` for one input x (1, 3, H, W): (H, W) float32 in [0, 1].

    ReLU of the gradient-weighted feature channels, upsampled bilinearly to the input size and
    scaled by its maximum (an all-zero map stays zero: nothing spoke for the class).
    """
    from .backend import prepare

    prepare()
    from captum.attr import LayerAttribution, LayerGradCam

    model.eval()
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        attr = LayerGradCam(model, layer_module).attribute(x, target=int(target), relu_attributions=True)
    up = LayerAttribution.interpolate(attr.detach(), tuple(x.shape[-2:]), interpolate_mode="bilinear")
    cam = up[0, 0].clamp_min(0).cpu().numpy().astype(np.float32)
    peak = float(cam.max())
    return cam / peak if peak > 0 else cam
