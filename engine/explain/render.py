"""Maps as pictures: a colour scale, the heat map, and the map laid over the image (numpy + Pillow).

The app blends `heat` over `base` itself (its opacity slider); the CLI and the report take the
ready `overlay`. Every picture is the model's own view: the centre crop it was given, at its
input size, so the map's pixels line up with what the network saw.
"""
from __future__ import annotations

import io

import numpy as np

# A perceptually ordered scale (dark blue -> cyan -> yellow -> red), 5 stops, interpolated: low
# values fade into the image, the places that spoke for the class glow.
_STOPS = np.array([[0.00, 0, 0, 90], [0.25, 0, 110, 230], [0.50, 0, 220, 200], [0.75, 250, 220, 0],
                   [1.00, 220, 20, 20]], dtype=np.float64)


def colorize(cam: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 4) uint8 RGBA; alpha rises with the value, so cold areas stay clear."""
    v = np.clip(np.nan_to_num(cam.astype(np.float64)), 0.0, 1.0)
    rgb = np.stack([np.interp(v, _STOPS[:, 0], _STOPS[:, c]) for c in (1, 2, 3)], axis=-1)
    alpha = 255.0 * np.clip(0.25 + 0.75 * v, 0.0, 1.0)
    return np.concatenate([rgb, alpha[..., None]], axis=-1).round().astype(np.uint8)


def base_image(pixels: np.ndarray, preprocess: dict) -> np.ndarray:
    """The normalised (3, H, W) input the model saw, back to (H, W, 3) uint8."""
    mean = np.asarray(preprocess["mean"], dtype=np.float32).reshape(3, 1, 1)
    std = np.asarray(preprocess["std"], dtype=np.float32).reshape(3, 1, 1)
    rgb = np.clip((pixels * std + mean) * 255.0, 0, 255).round().astype(np.uint8)
    return rgb.transpose(1, 2, 0)


def overlay(base: np.ndarray, heat_rgba: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """The heat map blended over the image at `opacity` (times the map's own alpha)."""
    a = heat_rgba[..., 3:4].astype(np.float32) / 255.0 * float(opacity)
    out = base.astype(np.float32) * (1 - a) + heat_rgba[..., :3].astype(np.float32) * a
    return out.round().astype(np.uint8)


def png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()
