"""torch Datasets over scanned Examples; one unreadable file never ends a run.

An image that fails at load time (deleted, changed or broken since the scan) becomes a
zero tensor with label -1, which the training loop masks out of the loss; its path and
reason are kept in `failed` (per process: with DataLoader workers each worker keeps its
own record, and a warning is logged in any case).
"""
from __future__ import annotations

import logging

import torch
from torch.utils.data import Dataset

from .images import load_image
from .text import read_text

log = logging.getLogger(__name__)


class ImageExamples(Dataset):
    """(tensor, label, index) for each Example; `transform` maps a PIL image to a tensor."""

    def __init__(self, examples, transform, min_side: int | None = None):
        self.examples = list(examples)
        self.transform = transform
        self.min_side = min_side  # lets big JPEGs decode at a reduced scale (see load_image)
        self.failed: dict[str, str] = {}
        self._shape = None
        size = getattr(transform, "input_size", None)
        if size:
            self._shape = (3, int(size), int(size))

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int):
        ex = self.examples[index]
        try:
            x = self.transform(load_image(ex.path, self.min_side))
        except Exception as exc:  # noqa: BLE001 - any failure of one file is that file's problem
            reason = str(exc) or type(exc).__name__
            if ex.path not in self.failed:
                log.warning("skipping %s: %s", ex.path, reason)
            self.failed[ex.path] = reason
            return torch.zeros(self._shape or (3, 224, 224)), -1, index
        if self._shape is None:
            self._shape = tuple(x.shape)
        return x, ex.label, index


class TextExamples(Dataset):
    """(text, label, index) for each Example; an unreadable text yields ("", -1, index)."""

    def __init__(self, examples):
        self.examples = list(examples)
        self.failed: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int):
        ex = self.examples[index]
        try:
            return read_text(ex), ex.label, index
        except Exception as exc:  # noqa: BLE001
            self.failed[ex.path] = str(exc) or type(exc).__name__
            log.warning("skipping %s: %s", ex.path, self.failed[ex.path])
            return "", -1, index
