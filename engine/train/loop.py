"""The epoch loop: one code path for full fine-tuning and for the cached linear probe.

Everything a resume needs is a function of the checkpoint: the epoch order depends only
on (seed, epoch), the learning rate only on the fraction of samples seen, and the RNG is
re-seeded at each epoch start. So 3 epochs straight and 2 + resume + 1 give the same
weights on CPU in deterministic mode.

Several processes (distributed.py, DDP started by torchrun): `cfg.batch_size` is the global
batch; every rank takes its part of each global batch (`distributed.shard`), the loss is
scaled so that DDP's gradient average equals the single-process mean over the global batch,
and the step's loss and accuracy, validation's predictions, a cancel and the early-stopping
decision are shared across ranks, so every rank takes the same decisions at the same step.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import protocol
from ..errors import Cancelled, NanLossError
from .batches import forward, make_loader, to_device
from .distributed import SINGLE
from .features import feature_batches
from .reporting import StepThrottle, Throughput

HIGHER_IS_BETTER = {"val_accuracy": True, "val_macro_f1": True, "val_balanced_accuracy": True, "val_loss": False}


def lr_factor(progress: float, warmup: float) -> float:
    """Linear warmup over the first `warmup` fraction, then cosine to zero."""
    if warmup > 0 and progress < warmup:
        return max(progress / warmup, 0.01)
    p = (progress - warmup) / max(1e-8, 1 - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, p))))


def earliest_stop(epochs: int, warmup: float) -> int:
    """The first epoch after which early stopping may end a run: once the cosine has passed
    its midpoint (learning rate below half its peak).

    While the learning rate is high, validation scores swing from epoch to epoch and a
    patience of a few epochs ends runs that were still improving: on sklearn's 8x8 digits at
    10/class, held-out accuracy 74.5 % -> 80.4 % over 3 seeds (benchmarks/ACCURACY_NOTES.md)."""
    return max(1, math.ceil(epochs * (warmup + (1 - warmup) / 2)))


def classification_values(y: np.ndarray, pred, loss: float | None = None, prefix: str = "val_") -> dict:
    """Loss, accuracy, balanced accuracy and macro F1; `pred` is class indices or a logits tensor
    (then the loss is its cross-entropy)."""
    from sklearn.metrics import balanced_accuracy_score, f1_score

    if isinstance(pred, torch.Tensor):
        logits = pred.float()
        loss = float(torch.nn.functional.cross_entropy(logits, torch.as_tensor(y, dtype=torch.long)))
        pred = logits.argmax(1).numpy()
    y, pred = np.asarray(y), np.asarray(pred)
    return {f"{prefix}loss": loss, f"{prefix}accuracy": float((y == pred).mean()),
            f"{prefix}balanced_accuracy": float(balanced_accuracy_score(y, pred)),
            f"{prefix}macro_f1": float(f1_score(y, pred, average="macro", zero_division=0))}


@dataclass
class LoopState:
    epoch: int = 0  # completed epochs
    samples_in_epoch: int = 0  # >0 only for a checkpoint taken mid-epoch (cancel, timer)
    global_step: int = 0
    samples_seen: int = 0
    batch_size: int = 32
    best_score: float | None = None
    best_epoch: int = 0
    epochs_without_improvement: int = 0
    history: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Split:
    """A split ready to iterate: a Dataset (+collate) or cached (features, labels)."""

    dataset: object = None
    collate: object = None
    features: torch.Tensor | None = None
    labels: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.labels) if self.features is not None else len(self.dataset)


class Loop:
    def __init__(self, *, model, optimizer, base_lrs, cfg, device, train: Split, val: Split,
                 report, cancel, callbacks=(), amp_dtype=None, channels_last=False,
                 class_weights=None, checkpoint_every_s: float = 300.0, stop_epoch: int | None = None,
                 ranks=SINGLE):
        self.model, self.opt, self.base_lrs = model, optimizer, base_lrs
        self.ranks = ranks  # distributed.Ranks: this process's place among the run's processes
        self.net = model  # what training steps call: the model, or its DDP wrapper on several processes
        self._cancel_agreed = False
        self.head_fn = None  # set by the FeatureCache callback: epochs then train the head on cached features
        self.cfg, self.device, self.train_split, self.val_split = cfg, device, train, val
        self.report, self.cancel = report, cancel
        self.callbacks = list(callbacks)  # callbacks.py: features, head warm-up, blend, BatchNorm, saving...
        self.amp_dtype, self.channels_last = amp_dtype, channels_last
        self.scaler = torch.amp.GradScaler("cuda") if (amp_dtype == torch.float16) else None
        self.loss_fn = torch.nn.CrossEntropyLoss(weight=class_weights, ignore_index=-1,
                                                 label_smoothing=cfg.label_smoothing)
        self.eval_loss_fn = torch.nn.CrossEntropyLoss(ignore_index=-1)
        self.checkpoint_every_s = checkpoint_every_s
        self.throughput = Throughput()
        self.monitor = cfg.monitor if len(val) else "train_loss"
        # the learning-rate schedule spans cfg.epochs; a refit follows it and stops at stop_epoch
        self.stop_epoch = int(stop_epoch or cfg.epochs)

    # ------------------------------------------------------------------ helpers
    @property
    def sharded(self) -> bool:
        """Each rank takes its part of every batch: several processes, training the model itself.

        On cached features (a linear probe's head) every rank trains the same head on all of them
        instead: identical work, seconds long, with no gradients to exchange."""
        return self.ranks.active and self.head_fn is None

    def _batches(self, split: Split, *, shuffle: bool, epoch: int, skip: int, batch_size: int):
        if split.features is not None:
            feats, labels = split.features, split.labels
            order_feats = feature_batches(feats, labels, batch_size, shuffle=shuffle, seed=self.cfg.seed, epoch=epoch)
            n_skip_batches = skip // batch_size
            for i, b in enumerate(order_feats):
                if i >= n_skip_batches:
                    yield b
            return
        loader = make_loader(split.dataset, split.collate, batch_size=batch_size, shuffle=shuffle,
                             num_workers=self.cfg.num_workers or 0, seed=self.cfg.seed, epoch=epoch, skip=skip,
                             pin_memory=self.device.type == "cuda", ranks=self.ranks if self.sharded else None)
        for i, (inputs, ys) in enumerate(loader):
            yield inputs, (torch.full_like(ys, -1) if i in loader.padding else ys)

    def _logits(self, inputs, train: bool = False):
        if self.head_fn is not None:
            return self.head_fn(inputs)
        return forward(self.net if train else self.model, inputs)

    def _wrap(self) -> None:
        """DDP around the model once the work before the first epoch is done: wrapping broadcasts rank 0's
        weights, so a head warmed up on each rank starts the same everywhere."""
        if self.sharded and self.net is self.model:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(self.model, device_ids=[self.device.index]
                                               if self.device.type == "cuda" else None)

    def _sharded_loss(self, logits, ys, cancel: bool):
        """(the loss to back-propagate, global [loss sum, weight sum, correct, valid, rows, cancel]).

        Each rank sums its examples' losses and divides by the whole global batch's weight, times the
        number of ranks: DDP averages gradients over ranks, so the step equals one process's mean loss
        over the global batch, however the batch was cut (and with class weights)."""
        lf = self.loss_fn
        loss_sum = torch.nn.functional.cross_entropy(logits.float(), ys, weight=lf.weight, ignore_index=-1,
                                                     label_smoothing=lf.label_smoothing, reduction="sum")
        valid = ys >= 0
        weight = lf.weight[ys[valid]].sum() if lf.weight is not None else valid.sum()
        correct = (logits.argmax(1)[valid] == ys[valid]).sum()
        local = torch.tensor([float(loss_sum.detach()), float(weight), float(correct), float(valid.sum()),
                              float(ys.shape[0]), float(cancel)], dtype=torch.float64)
        stats = self.ranks.reduce_sum(local)
        return loss_sum * (self.ranks.world / max(float(stats[1]), 1e-12)), stats

    def _set_lr(self, progress: float) -> float:
        f = lr_factor(progress, self.cfg.warmup_fraction)
        for g, base in zip(self.opt.param_groups, self.base_lrs):
            g["lr"] = base * f
        # the head's (first group): the learning rate the user set; earlier stages get fractions of it
        return self.opt.param_groups[0]["lr"]

    def _call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def callback_states(self) -> dict:
        """{callback name: its state_dict()} for those that keep any (stored in checkpoints/last)."""
        return {cb.name: sd for cb in self.callbacks if (sd := cb.state_dict())}

    def load_callback_states(self, states: dict | None) -> None:
        for cb in self.callbacks:
            if cb.name in (states or {}):
                cb.load_state_dict(dict(states[cb.name]))

    def _cancel_seen(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def _check_cancel(self, state: LoopState) -> None:
        """Stop at this batch when cancelled; on several processes when any rank saw the cancel at the
        previous step (the step statistics carry it), so all stop at the same batch."""
        if self.sharded:
            stop = self._cancel_agreed
        else:  # one process, or every rank training the same head on cached features
            stop = self.ranks.any_set(self._cancel_seen())
        if stop:
            self._call("on_interrupt", state)
            self.ranks.barrier()  # rank 0 has written checkpoints/last before any rank leaves
            raise Cancelled("The run was cancelled; its last state is saved and can be resumed.")

    # ------------------------------------------------------------------ train
    def run_epoch(self, state: LoopState, epoch: int) -> dict:
        """Train one epoch (1-based `epoch`), resuming at state.samples_in_epoch."""
        cfg, n = self.cfg, len(self.train_split)
        total_samples = cfg.epochs * n
        torch.manual_seed(cfg.seed * 1000 + epoch * 7 + state.samples_in_epoch + 7919 * self.ranks.rank)
        self.model.train()
        self._call("on_train_epoch_start")
        throttle = StepThrottle(self.report)
        self.throughput.reset()
        loss_sum, correct, seen = 0.0, 0, 0
        steps = math.ceil(n / state.batch_size)
        step = state.samples_in_epoch // state.batch_size
        last_ckpt = time.monotonic()
        for inputs, ys in self._batches(self.train_split, shuffle=True, epoch=epoch,
                                        skip=state.samples_in_epoch, batch_size=state.batch_size):
            self._check_cancel(state)
            lr = self._set_lr(state.samples_seen / max(1, total_samples))
            inputs, ys = to_device(inputs, ys, self.device, self.channels_last)
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                logits = self._logits(inputs, train=True)
                if self.sharded:
                    loss, stats = self._sharded_loss(logits, ys, self._cancel_seen())
                else:
                    loss = self.loss_fn(logits.float(), ys)
            if self.sharded:  # the global batch's figures, the same on every rank
                loss_value = float(stats[0] / stats[1]) if stats[1] > 0 else float("nan")
                nv, b, n_correct = int(stats[3]), int(stats[4]), int(stats[2])
                self._cancel_agreed = bool(stats[5] > 0)
            else:
                loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise NanLossError(
                    f"The loss became {loss_value} at step {state.global_step + 1} (epoch {epoch}), so training "
                    "stopped before saving the damaged weights; try a lower learning rate.")
            self.opt.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.step(self.opt)
                self.scaler.update()
            else:
                loss.backward()
                self.opt.step()
            if not self.sharded:
                valid = ys >= 0
                b, nv = int(ys.shape[0]), int(valid.sum())
                n_correct = int((logits.argmax(1)[valid] == ys[valid]).sum())
            state.global_step += 1
            state.samples_seen += b
            state.samples_in_epoch += b
            step += 1
            loss_sum += loss_value * nv
            correct += n_correct
            seen += nv
            self.throughput.add(b)
            remaining = self.stop_epoch * n - ((epoch - 1) * n + state.samples_in_epoch)
            progress = protocol.Progress(epoch=epoch, epochs=self.stop_epoch, step=step, steps=steps,
                                         global_step=state.global_step,
                                         total_steps=state.global_step + math.ceil(remaining / state.batch_size),
                                         samples_per_s=round(self.throughput.rate(), 2),
                                         eta_s=self.throughput.eta(remaining), phase="train")
            throttle.step(global_step=state.global_step, epoch_float=epoch - 1 + state.samples_in_epoch / n,
                          values={"loss": loss_value, "lr": lr}, samples=b, progress=progress)
            if time.monotonic() - last_ckpt > self.checkpoint_every_s:
                self._call("on_interrupt", state)
                last_ckpt = time.monotonic()
        throttle.flush(state.global_step, float(epoch), None)
        return {"train_loss": loss_sum / max(1, seen), "train_accuracy": correct / max(1, seen)}

    # ------------------------------------------------------------------ validate
    def validate(self) -> dict:
        y, pred, loss = self._val_outputs()
        return classification_values(y, pred, loss=loss) if len(y) else {}

    def val_predictions(self) -> tuple[np.ndarray, np.ndarray]:
        """(labels, predicted classes) of the validation examples, always in the same order (the safety
        net pairs two models' answers example by example)."""
        y, pred, _ = self._val_outputs()
        return y, pred

    @torch.inference_mode()
    def _val_outputs(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Labels, predictions and mean loss over the validation split (every rank's part when sharded)."""
        empty = np.zeros(0, dtype=np.int64)
        if not len(self.val_split):
            return empty, empty, 0.0
        self.model.eval()
        ys_all, preds, loss_sum, n = [], [], 0.0, 0
        for inputs, ys in self._batches(self.val_split, shuffle=False, epoch=0, skip=0,
                                        batch_size=max(self.cfg.batch_size or 32, 32)):
            inputs, ys = to_device(inputs, ys, self.device, self.channels_last)
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                logits = self._logits(inputs).float()
            valid = ys >= 0
            if not valid.any():
                continue
            loss_sum += float(self.eval_loss_fn(logits, ys)) * int(valid.sum())
            n += int(valid.sum())
            ys_all.append(ys[valid].cpu().numpy())
            preds.append(logits.argmax(1)[valid].cpu().numpy())
        if self.sharded:  # each rank scored its part: every rank computes the figures from all parts
            parts = self.ranks.gather((ys_all, preds, loss_sum, n))
            ys_all, preds = [a for p in parts for a in p[0]], [a for p in parts for a in p[1]]
            loss_sum, n = sum(p[2] for p in parts), sum(p[3] for p in parts)
        if not n:
            return empty, empty, 0.0
        return np.concatenate(ys_all), np.concatenate(preds), loss_sum / n

    # ------------------------------------------------------------------ fit
    def fit(self, state: LoopState, resumed: bool = False) -> str:
        cfg = self.cfg
        higher = HIGHER_IS_BETTER.get(self.monitor, False)
        self._call("on_fit_start", state, resumed)
        self._wrap()
        while state.epoch < self.stop_epoch:
            epoch = state.epoch + 1
            t0 = time.monotonic()
            values = self.run_oom_safe(state, epoch)
            values.update(self.validate())
            state.epoch, state.samples_in_epoch = epoch, 0
            score = values.get(self.monitor)
            improved = score is not None and (
                state.best_score is None or (score > state.best_score if higher else score < state.best_score))
            if improved:
                state.best_score, state.best_epoch, state.epochs_without_improvement = score, epoch, 0
            else:
                state.epochs_without_improvement += 1
            state.history.append({"epoch": epoch, **values})
            self.report(protocol.EpochEnd(epoch=epoch, values=values, best=bool(improved),
                                          seconds=round(time.monotonic() - t0, 3)))
            self._call("on_epoch_end", state, bool(improved))
            patience = cfg.early_stopping_patience
            stop = bool(patience and len(self.val_split) and state.epochs_without_improvement >= patience
                        and earliest_stop(cfg.epochs, cfg.warmup_fraction) <= state.epoch < cfg.epochs)
            if self.ranks.agree(stop):  # decided once, by rank 0, for every rank
                self.report(protocol.Log(level="info", text=(
                    f"Early stopping after epoch {epoch}: {self.monitor} has not improved for "
                    f"{state.epochs_without_improvement} epochs, since epoch {state.best_epoch}.")))
                self._call("on_fit_end", state)
                return "early_stopping"
        self._call("on_fit_end", state)
        return "completed"

    def run_oom_safe(self, state: LoopState, epoch: int) -> dict:
        """Run an epoch; on CUDA out-of-memory halve the batch size and carry on."""
        while True:
            try:
                return self.run_epoch(state, epoch)
            except torch.OutOfMemoryError:
                # several processes cannot halve together: the rank fails and torchrun ends the run (resumable)
                if self.device.type != "cuda" or state.batch_size <= 1 or self.ranks.active:
                    raise
                self.opt.zero_grad(set_to_none=True)
                torch.cuda.empty_cache()
                state.batch_size = max(1, state.batch_size // 2)
                self.report(protocol.Log(level="warning", text=(
                    f"The GPU ran out of memory; continuing with batch size {state.batch_size}.")))
