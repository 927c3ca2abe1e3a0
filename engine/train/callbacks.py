"""Pieces of the training loop with their own state, called at named points (fastai's Callback,
Lightning's callbacks): the loop runs epochs and steps, and what happens around them is a list
handed to it at construction, never a method swapped on it afterwards.

Hooks (each optional; called in list order):
- `on_fit_start(loop, state, resumed)`: before the first epoch, once per phase (the feature cache,
  the head warm-up and the blend's start weights happen here, in that order);
- `on_train_epoch_start(loop)`: after `model.train()`, before the first batch of an epoch;
- `on_epoch_end(loop, state, improved)`: after validation, with the monitored score's verdict;
- `on_interrupt(loop, state)`: a cancel or the mid-epoch timer: the state must reach disk now;
- `on_fit_end(loop, state)`: the loop finished (completed or stopped early).

State for resume: `state_dict()` returns what a callback must remember across a resume (plain
JSON values; the loop stores them in every checkpoint of checkpoints/last under "callbacks", by
callback name) and `load_state_dict()` receives it back before `on_fit_start(resumed=True)`.
"""
from __future__ import annotations

import torch

from .. import protocol


class Callback:
    @property
    def name(self) -> str:
        return type(self).__name__

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def on_fit_start(self, loop, state, resumed: bool) -> None:
        pass

    def on_train_epoch_start(self, loop) -> None:
        pass

    def on_epoch_end(self, loop, state, improved: bool) -> None:
        pass

    def on_interrupt(self, loop, state) -> None:
        pass

    def on_fit_end(self, loop, state) -> None:
        pass


class SaveCheckpoints(Callback):
    """checkpoints/last after every epoch and on interrupt; checkpoints/best when the score improved
    (`best` None: a phase that does not select, such as a refit)."""

    def __init__(self, last, best=None):
        self.last, self.best = last, best

    def on_epoch_end(self, loop, state, improved: bool) -> None:
        if improved and self.best is not None:
            self.best(state)
        self.last(state, partial=False)

    def on_interrupt(self, loop, state) -> None:
        self.last(state, partial=True)


class BnFreeze(Callback):
    """Frozen stages stay in eval mode; with `all_bn` every BatchNorm keeps its statistics (its scale and
    shift still learn): on small data a few dozen images' batch statistics are noisier than the
    pretrained ones and would shift the features the warmed-up head was fitted on."""

    def __init__(self, spec, k: int, all_bn: bool | None):
        self.spec, self.k, self.all_bn = spec, int(k), bool(all_bn)

    def on_train_epoch_start(self, loop) -> None:
        from ..freezing import set_frozen_eval

        set_frozen_eval(loop.model, self.spec, self.k)
        if self.all_bn:
            for m in loop.model.modules():
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                    m.eval()


class Announce(Callback):
    """The phase's status line ("training: 12 epochs, batch 32"), once the work before the first
    epoch (features, head) is done, so the Train page shows phases in the order they happen."""

    def __init__(self, phase: str, detail):
        self.phase, self.detail = phase, detail  # detail(loop, state) -> str

    def on_fit_start(self, loop, state, resumed: bool) -> None:
        loop.report(protocol.Status(phase=self.phase, detail=self.detail(loop, state)))
