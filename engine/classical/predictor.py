"""The simple model behind the app's Predictor interface: Try it, evaluation, folders, bundles.

Only how a file becomes input arrays and how arrays become probabilities differ from a
network (`_prepare`, `_arrays`, `_forward`); batching, unreadable files, the decision
rule and the rows printed are the Predictor's own.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..bundle import decision
from ..bundle import preprocessing as pre
from ..inference import Predictor
from .model import PIXELS, THUMBNAIL, SimpleModel


def prepare(kind: str, item: Any, window: str = "file", size: int = THUMBNAIL):
    """An Example or a path -> grey pixel vector (images) or its text (texts)."""
    if kind == PIXELS:
        from ..data.dicom import load_any_image

        return pre.grey_pixels(load_any_image(str(getattr(item, "path", item)), window=window), {"size": size})
    from ..data.text import read_text

    return read_text(item)


def read_inputs(kind: str, items: list, window: str = "file") -> tuple[list, list[int]]:
    """(inputs, indices of the items read) for fitting; unreadable items are left out (the health
    report and the evaluation list them)."""
    inputs, kept = [], []
    for i, item in enumerate(items):
        try:
            inputs.append(prepare(kind, item, window))
        except Exception:  # noqa: BLE001 - one unreadable file never stops the fit
            continue
        kept.append(i)
    return inputs, kept


class SimplePredictor(Predictor):
    def __init__(self, model: SimpleModel, *, origin: str = "", rule: dict | None = None, batch_size: int = 64):
        self.model = model
        self.classes = list(model.classes)
        self.modality = "image" if model.kind == PIXELS else "text"
        self.preprocess = dict(model.preprocess)
        self.tokenizer = None
        self.origin = origin
        self.device = "cpu"
        self.batch_size = int(batch_size)
        self.rule = decision.check_rule(rule, self.classes)
        self._vocab = model.vocabulary_index() if model.kind != PIXELS else None

    @classmethod
    def from_folder(cls, folder: str | Path, origin: str = "", rule: dict | None = None) -> "SimplePredictor":
        return cls(SimpleModel.load(folder), origin=origin or str(folder), rule=rule)

    def _prepare(self, item: Any):
        return prepare(self.model.kind, item, self.model.dicom_window, self.model.size)

    def _arrays(self, prepared: list) -> dict[str, np.ndarray]:
        if self.modality == "image":
            return {"pixels": np.stack(prepared)}
        return {"counts": np.stack([pre.word_counts(t, self._vocab) for t in prepared])}

    def _forward(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        x = arrays["pixels"] if self.modality == "image" else arrays["counts"]
        return pre.softmax(self.model.logits(x))
