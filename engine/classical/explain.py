"""What a simple model looked at: its own arithmetic, exactly, with no approximation.

The simple model is linear: its logit for class c is sum_j w_cj z_j + b_c, over standardised
grey pixels or TF-IDF word weights z. Each input's share of that logit, w_cj z_j, is therefore
the whole story, not an estimate like Grad-CAM or integrated gradients. Pixels: the shares as
a map at the model's own 16x16 (positive = spoke for the class), shown enlarged over the grey
thumbnail it saw; words: each word's share, split between its occurrences, with offsets into
the text so the app highlights them in place, scaled like the network's word scores.
"""
from __future__ import annotations

import re

import numpy as np

from ..bundle import preprocessing as pre
from .model import PIXELS, SimpleModel

SHOWN = 224  # pixels a side of the enlarged thumbnail and map


def pixel_shares(model: SimpleModel, pixels: np.ndarray, target: int) -> np.ndarray:
    """(size, size) map in [0, 1]: the positive shares of each pixel in class `target`'s logit."""
    z = model.transform(np.asarray(pixels, dtype=np.float64)[None])[0]
    share = np.clip(model.weight[target] * z, 0.0, None).reshape(model.size, model.size)
    peak = share.max()
    return share / peak if peak > 0 else share


def enlarged(pixels: np.ndarray, size: int, cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(base RGB uint8, map) at SHOWN x SHOWN: the thumbnail the model saw, blocky, and its map, smooth."""
    from PIL import Image

    grey = (np.asarray(pixels).reshape(size, size) * 255).round().astype(np.uint8)
    base = np.asarray(Image.fromarray(grey).resize((SHOWN, SHOWN), Image.Resampling.NEAREST).convert("RGB"))
    big = Image.fromarray(cam.astype(np.float32), mode="F").resize((SHOWN, SHOWN), Image.Resampling.BILINEAR)
    return base, np.clip(np.asarray(big), 0.0, 1.0)


def word_shares(model: SimpleModel, text: str, target: int) -> list[list]:
    """[[word, score, start, end], ...] in reading order; scores signed, divided by the largest magnitude."""
    vocab = model.vocabulary_index()
    z = model.transform(pre.word_counts(text, vocab)[None])[0]
    contrib = model.weight[target] * z
    found = [(m.group(0), m.start(), m.end(), vocab.get(m.group(0).lower()))
             for m in re.finditer(pre.TOKEN_PATTERN, text)]
    occurrences: dict[int, int] = {}
    for *_, j in found:
        if j is not None:
            occurrences[j] = occurrences.get(j, 0) + 1
    words = [[w, float(contrib[j]) / occurrences[j] if j is not None else 0.0, s, e] for w, s, e, j in found]
    peak = max((abs(w[1]) for w in words), default=0.0)
    for w in words:
        w[1] = round(w[1] / peak, 4) if peak > 0 else 0.0
    return words


def is_pixels(model: SimpleModel) -> bool:
    return model.kind == PIXELS
