"""Keep epochs on cached features cheap: checkpoint writes and CPU threads sized to the work.

When the backbone's features are cached (linear probe), an epoch trains a linear head on
a few thousand vectors and takes milliseconds, while writing a checkpoint (the whole
model, fsynced) takes ~0.15 s and two CPU threads waiting on each other for tiny matrix
products can take ten times longer than one thread. Measured on this project's 2-core
machines (benchmarks/RESULTS.md); without these, epochs 2..N cost 10-50 % of epoch 1.
"""
from __future__ import annotations

import contextlib
import copy
import time

import torch

from .callbacks import SaveCheckpoints


def zero_head(model: torch.nn.Module, spec) -> int:
    """Start a linear probe from a zero head: logits 0, loss log(C), nothing to undo.

    Library heads are initialised for 1000 ImageNet classes; sized for a few classes their
    init can be large (timm's EfficientNet-Lite head: std 0.26 on 1280 features, first
    logits of std ~8), and a probe trained by AdamW then needs hundreds of steps to undo
    it. From zero the probe reaches scikit-learn's logistic-regression accuracy in the
    first epoch (benchmarks/NOTES.md). Returns the number of tensors zeroed.
    """
    n = 0
    with torch.no_grad():
        for name, p in model.named_parameters():
            if spec.head.covers(name):
                p.zero_()
                n += 1
    return n


@contextlib.contextmanager
def single_thread_on_cpu(device: torch.device):
    """Run the block with one intra-op CPU thread (tiny ops gain nothing from more)."""
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class DeferredSaves(SaveCheckpoints):
    """Wraps a run's save_last/save_best so they write at most every `min_interval_s`.

    - `last(state, partial)`: a partial save (cancel, mid-epoch timer) writes at once
      (with any pending best first); an epoch-end save writes if the previous write was
      `min_interval_s` ago, else it is remembered and written by `flush()`.
    - `best(state)`: keeps an in-memory copy of the trainable weights, buffers and state,
      written when due; `flush()` writes it with the model's weights swapped in and out.
    Epoch order and RNG are functions of the checkpoint, so resume stays exact; a crash
    loses at most `min_interval_s` of (cheap) epochs.
    """

    def __init__(self, save_last, save_best, model: torch.nn.Module, min_interval_s: float = 10.0,
                 clock=time.monotonic):
        self._save_last, self._save_best, self.model = save_last, save_best, model
        self.min_interval_s, self.clock = float(min_interval_s), clock
        self._last_write = clock()
        self._pending_last = None
        self._pending_best = None  # (state copy, {name: tensor})
        self.writes = 0

    def _changing_tensors(self) -> dict[str, torch.Tensor]:
        out = {n: p for n, p in self.model.named_parameters() if p.requires_grad}
        out.update(dict(self.model.named_buffers()))
        return out

    def best(self, state) -> None:
        if self._save_best is None:  # a phase that does not select (a refit)
            return
        snap = {n: t.detach().clone() for n, t in self._changing_tensors().items()}
        self._pending_best = (copy.deepcopy(state), snap)
        if self._due():
            self._write_best()

    def last(self, state, partial: bool) -> None:
        partial = bool(partial or (self._pending_last is not None and self._pending_last[1]))
        self._pending_last = (state, partial)
        if partial or self._due():
            self.flush()

    def _due(self) -> bool:
        return self.clock() - self._last_write >= self.min_interval_s

    def _write_best(self) -> None:
        if self._pending_best is None:
            return
        state, snap = self._pending_best
        live = self._changing_tensors()
        current = {n: live[n].detach().clone() for n in snap}
        with torch.no_grad():
            for n, t in snap.items():
                live[n].copy_(t)
            try:
                self._save_best(state)
            finally:
                for n, t in current.items():
                    live[n].copy_(t)
        self._pending_best = None
        self.writes += 1
        self._last_write = self.clock()

    # the loop's hooks are SaveCheckpoints' (its `last` / `best` are the deferring methods above)
    def on_fit_end(self, loop, state) -> None:
        self.flush()

    def flush(self) -> None:
        """Write whatever is pending: best (from its copy), then last (the live model)."""
        self._write_best()
        if self._pending_last is not None:
            (state, partial), self._pending_last = self._pending_last, None
            self._save_last(state, partial=partial)
            self.writes += 1
            self._last_write = self.clock()
