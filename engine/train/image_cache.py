"""Decode each image once, keep it as a small uint8 tensor, augment that tensor every epoch.

Why: decoding a file and resizing it costs as much as the augmentation itself and is the
same work every epoch. For a data set whose decoded, resized images fit in a memory
budget (1.5 GB by default, `TRANSFER_STUDIO_IMAGE_CACHE_MB` to change, 0 to turn off)
each image is decoded once and later epochs only crop, flip and normalize tensors.

Two kinds of "base" image are kept, chosen so that the result never depends on whether
an image happened to be in the cache (an image over the budget is simply recomputed):
- augmented training: the decoded image, shrunk (never enlarged) so its shorter side is
  `train_side(crop)` = 1.4 x the training crop's side (the input size unless the recipe
  trains on smaller crops), enough for the smallest random crop not to
  be upsampled. JPEGs decode at a reduced scale (draft mode) down to that side. Images
  already smaller are kept as they are, so for them the pixels are exactly those of
  `engine.data.transforms.image_transform`.
- evaluation (and augment "none"): the resized, centre-cropped uint8 image, exactly the
  pixels `image_transform(train=False)` would produce before scaling to float.
Scaling to float and normalizing happen once per batch (`collate`), with the same ops as
the per-image transform, so the numbers are bit-identical to it.

A file that fails to decode yields a zero image with label -1 (the loop masks it) and is
remembered in `failed`, so a broken file never stops a run and costs one attempt only.
"""
from __future__ import annotations

import logging
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from ..data.transforms import AUGMENTS, Geometry

log = logging.getLogger(__name__)

DEFAULT_BUDGET_MB = 1500
BUDGET_ENV = "TRANSFER_STUDIO_IMAGE_CACHE_MB"
TRAIN_SIDE_FACTOR = 1.4
_FAILED = object()


def budget_bytes() -> int:
    """The memory budget for cached images, from the environment or the default."""
    raw = os.environ.get(BUDGET_ENV, "").strip()
    try:
        mb = float(raw) if raw else DEFAULT_BUDGET_MB
    except ValueError:
        mb = DEFAULT_BUDGET_MB
    return int(max(0.0, mb) * 1024 * 1024)


def train_side(size: int) -> int:
    """Shorter side kept for augmented training images (RandomResizedCrop scale >= 0.7)."""
    return int(math.ceil(size * TRAIN_SIDE_FACTOR))


class CachedImages(Dataset):
    """(uint8 tensor, label, index) per example; images decoded once within a memory budget.

    `__getitem__` returns an uint8 (3, S, S) tensor: pass batches through `collate` to get
    normalized float tensors. The output does not depend on what is cached.
    """

    def __init__(self, examples, preprocess: dict, *, train: bool, augment: str = "light",
                 budget: int | None = None, train_size: int | None = None):
        if augment not in AUGMENTS:
            raise ValueError(f"augment must be one of {', '.join(AUGMENTS)}, not {augment!r}")
        g = Geometry(preprocess)
        self.examples = list(examples)
        self.size, self.interp, self.mean, self.std = g.size, g.interp, g.mean, g.std
        self.evaluation = v2.Compose(g.eval_steps())
        self.window = str((preprocess or {}).get("dicom_window") or "file")  # DICOM -> 8 bits (dicom_windows.py)
        self.augmenting = bool(train and augment != "none")
        self.crop = int(train_size or self.size)  # augmented crops may be smaller than evaluation's
        self.side = train_side(self.crop) if self.augmenting else None
        self.augment = v2.Compose(g.augmentation(augment, self.crop)) if self.augmenting else None
        self.budget = budget_bytes() if budget is None else int(budget)
        self.cached_bytes = 0
        self.failed: dict[str, str] = {}
        self._base: list = [None] * len(self.examples)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ decoding
    def _decode(self, index: int) -> torch.Tensor:
        from ..data.dicom import load_any_image

        path = self.examples[index].path
        if self.augmenting:
            x = F.pil_to_tensor(load_any_image(path, self.side, self.window))
            h, w = x.shape[-2:]
            if min(h, w) > self.side:
                x = F.resize(x, self.side, interpolation=self.interp, antialias=True)
            return x.contiguous()
        return self.evaluation(F.pil_to_tensor(load_any_image(path, None, self.window))).contiguous()

    def base(self, index: int):
        """The decoded (and resized) uint8 image, or None when the file cannot be used."""
        cached = self._base[index]
        if cached is _FAILED:
            return None
        if cached is not None:
            return cached
        ex = self.examples[index]
        try:
            x = self._decode(index)
        except Exception as exc:  # noqa: BLE001 - any failure of one file is that file's problem
            reason = str(exc) or type(exc).__name__
            log.warning("skipping %s: %s", ex.path, reason)
            with self._lock:
                self.failed[ex.path] = reason
                self._base[index] = _FAILED
            return None
        with self._lock:
            if self.cached_bytes + x.nbytes <= self.budget:
                self._base[index] = x
                self.cached_bytes += x.nbytes
        return x

    def fill(self, threads: int) -> None:
        """Decode every image up front in a thread pool (PIL releases the GIL while decoding).

        Used before DataLoader workers start, so each worker inherits a full cache.
        """
        todo = [i for i, b in enumerate(self._base) if b is None]
        if not todo or self.budget <= 0:
            return
        def one(i: int) -> None:
            if self.cached_bytes < self.budget:  # once full, leave the rest to the workers
                self.base(i)

        with ThreadPoolExecutor(max_workers=max(1, int(threads))) as pool:
            for _ in pool.map(one, todo):
                pass

    @property
    def complete(self) -> bool:
        return all(b is not None for b in self._base)

    # ------------------------------------------------------------------ Dataset
    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int):
        x = self.base(index)
        if x is None:
            side = self.crop if self.augment is not None else self.size
            return torch.zeros((3, side, side), dtype=torch.uint8), -1, index
        if self.augment is not None:
            x = self.augment(x)
        return x, self.examples[index].label, index

    def __getstate__(self):  # DataLoader workers started by "spawn" receive a pickled copy
        state = dict(self.__dict__)
        state.pop("_lock", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def collate(self) -> "NormalizeBatch":
        return NormalizeBatch(self.mean, self.std)


class NormalizeBatch:
    """Collate: stack uint8 images, then scale to [0, 1] and normalize the whole batch at once.

    The same ops as the per-image ToDtype + Normalize, so the values are bit-identical.
    A small object of its own (not a bound method) so that workers never pickle the cache.
    """

    def __init__(self, mean, std):
        self.mean, self.std = list(mean), list(std)

    def __call__(self, rows):
        xs = torch.stack([r[0] for r in rows])
        xs = F.normalize(F.to_dtype(xs, torch.float32, scale=True), mean=self.mean, std=self.std)
        ys = torch.tensor([int(r[1]) for r in rows], dtype=torch.long)
        return xs, ys
