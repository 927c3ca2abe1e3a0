"""State of the Train step (Qt-free): the settings a person chose and the live run.

Settings left as None are "Auto": the engine's recipe fills them from the data and
backbone, so defaults stay right for 20 images or 20 000. `build_config` turns the three
steps' choices into a validated RunConfig dict for the protocol's Start message.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from engine.config import ConfigError, RunConfig

from . import format as fmt
from .events import EventGroup

PHASE_TEXT = {
    "idle": "Ready",
    "scanning": "Reading the data",
    "loading_model": "Loading the pretrained model",
    "caching_features": "Running the frozen layers once over every example",
    "training": "Training",
    "refitting": "Training again on train + validation",
    "evaluating": "Measuring on held-out examples",
    "saving": "Saving",
    "done": "Finished",
}


@dataclass
class TrainSettings:
    """The Train step's form. None = Auto."""

    epochs: int | None = None
    budget: str = "standard"  # quick / standard / thorough (engine.config.BUDGETS)
    lr: float | None = None
    batch_size: int | None = None
    augment: str = "light"
    early_stopping: bool = True
    patience: int = 3
    device: str = "auto"
    gpus: int = 1  # > 1: "Use all N GPUs" (one training process each, the engine's distributed run)
    # advanced
    weight_decay: float = 0.01
    label_smoothing: float = 0.0
    class_weighted: bool | None = None  # None: Auto (the recipe weights imbalanced classes)
    input_size: int | None = None
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0
    feature_cache: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainSettings":
        """Tolerant: unknown keys and wrongly-typed values fall back to defaults."""
        base = cls()
        for f in fields(cls):
            if f.name not in (d or {}):
                continue
            v, default = d[f.name], getattr(base, f.name)
            kind = _AUTO_TYPES.get(f.name, type(default))
            ok = (v is None and f.name in _AUTO_TYPES) or (
                isinstance(v, kind) and not (isinstance(v, bool) and kind is not bool))
            if kind is float and isinstance(v, int) and not isinstance(v, bool):
                v, ok = float(v), True
            if ok:
                setattr(base, f.name, v)
        return base


_AUTO_TYPES = {"epochs": int, "lr": float, "batch_size": int, "input_size": int,  # None = Auto
               "class_weighted": bool}
BUSY_PHASES = ("loading_model", "evaluating", "saving", "scanning")  # no countable progress: a busy bar


def build_config(data: list[str], backbone: str, freeze: int | None, s: TrainSettings,
                 runs_root: str, weights: str | None = None, data_options: dict | None = None) -> dict:
    """A RunConfig dict; raises ConfigError with one sentence if a setting cannot work.

    `data_options`: the Data page's grouping and DICOM window (DataModel.run_options())."""
    cfg = RunConfig(
        data=list(data), backbone=backbone, weights=weights, freeze=freeze,
        epochs=s.epochs, budget=s.budget, lr=s.lr, batch_size=s.batch_size, augment=s.augment,
        early_stopping_patience=s.patience if s.early_stopping else None,
        device=s.device, gpus=s.gpus, weight_decay=s.weight_decay, label_smoothing=s.label_smoothing,
        class_weighted=s.class_weighted, input_size=s.input_size,
        val_fraction=s.val_fraction, test_fraction=s.test_fraction, seed=s.seed,
        feature_cache=s.feature_cache, runs_root=str(runs_root), **(data_options or {}))
    cfg.validate()
    return cfg.to_dict()


class RunState:
    """What the live run looks like; fed from engine messages, read by the Train view.

    Events: `started(resumed)`, `changed()` (phase, progress, end), `log(level, text)`, the live
    curves' `step(epoch, values)` and `epoch(epoch, values, best)`, and `total_steps(n)` once known.
    """

    def __init__(self) -> None:
        self.events = EventGroup(started=("resumed",), changed=(), log=("level", "text"),
                                 step=("epoch", "values"), epoch=("epoch", "values", "best"), total_steps=("n",))
        self.reset()

    def reset(self) -> None:
        self.running = False
        self.phase = "idle"
        self.detail = ""
        self.epoch = self.epochs = self.step = self.steps = 0
        self.global_step = self.total_steps = 0
        self.samples_per_s = 0.0
        self.sub_done = self.sub_total = 0  # progress inside a non-training phase (cache, eval)
        self.eta_s: float | None = None
        self.run_dir: str | None = None
        self.last_checkpoint: str | None = None
        self.stopped: str | None = None  # completed|cancelled|failed|crashed
        self.best_epoch: int | None = None
        self.config: dict | None = None
        self.started_at: float | None = None

    def start(self, config: dict, resume_dir: str | None = None) -> None:
        """A new run, or (`resume_dir`) the same run going on from its last checkpoint."""
        self.reset()
        self.config = config
        self.running = True
        self.phase = "loading_model"
        self.started_at = time.monotonic()
        self.run_dir = resume_dir
        self.events.started.emit(bool(resume_dir))
        self.log("info", f"Resuming {resume_dir}" if resume_dir else "Starting a new run.")
        self.events.changed.emit()

    def log(self, level: str, text: str) -> None:
        self.events.log.emit(level, text)

    def set_detail(self, detail: str) -> None:
        self.detail = detail
        self.events.changed.emit()

    def on_status(self, phase: str, detail: str = "") -> None:
        if phase and phase != self.phase:
            self.sub_done = self.sub_total = 0
        self.phase, self.detail = phase or self.phase, detail
        self.events.changed.emit()

    def on_metric(self, epoch: float, values: dict) -> None:
        self.events.step.emit(float(epoch), dict(values or {}))

    def on_epoch(self, epoch: int, values: dict, best: bool) -> None:
        values = dict(values or {})
        self.events.epoch.emit(int(epoch), values, bool(best))
        shown = ", ".join(f"{k} {v:.4g}" for k, v in values.items() if isinstance(v, (int, float)))
        self.log("info", f"epoch {epoch}: {shown}{' (best so far)' if best else ''}")

    def on_progress(self, p) -> None:
        self._progress(p)
        self.events.changed.emit()

    def _progress(self, p) -> None:
        phase = getattr(p, "phase", "train") or "train"
        if phase == "refit":  # the final model on train + validation: its own step count
            self.sub_done, self.sub_total = int(p.global_step or 0), int(p.total_steps or 0)
            self.phase = "refitting"
            return
        if phase != "train":  # caching features, evaluating: a sub-progress, epochs untouched
            self.sub_done, self.sub_total = int(p.step or 0), int(p.steps or 0)
            if phase == "cache":
                self.phase = "caching_features"
            return
        known = self.total_steps
        for name in ("epoch", "epochs", "step", "steps", "global_step", "total_steps", "samples_per_s", "eta_s"):
            setattr(self, name, getattr(p, name, getattr(self, name)))
        self.phase = "training"
        if not known and self.total_steps:
            self.events.total_steps.emit(int(self.total_steps))

    def on_checkpoint(self, kind: str, path: str, epoch: int = 0) -> None:
        if kind == "last" or self.last_checkpoint is None:
            self.last_checkpoint = path
        if kind == "best":
            self.best_epoch = epoch
        if path and not self.run_dir:
            # <run_dir>/checkpoints/<kind>
            p = Path(path)
            self.run_dir = str(p.parent.parent if p.parent.name == "checkpoints" else p.parent)

    def finish(self, how: str, run_dir: str | None = None) -> None:
        self.running = False
        self.stopped = how
        if run_dir:
            self.run_dir = run_dir
        self.phase = "done" if how == "completed" else "idle"
        self.events.changed.emit()

    @property
    def can_resume(self) -> bool:
        return not self.running and self.run_dir is not None and self.last_checkpoint is not None \
            and self.stopped in ("cancelled", "failed", "crashed")

    @property
    def fraction(self) -> float:
        """Share of the training steps done; 1.0 once the run completed (the engine's last
        progress message may come a few steps early, and early stopping skips the rest)."""
        if self.stopped == "completed":
            return 1.0
        if self.total_steps:
            return min(1.0, self.global_step / self.total_steps)
        if self.epochs and self.steps:
            return min(1.0, ((self.epoch - 1) * self.steps + self.step) / (self.epochs * self.steps))
        return 0.0

    def bar(self) -> tuple[float | None, str]:
        """(fraction, label) for the progress bar; fraction None = busy without a count
        (loading the model, evaluating, saving), so no stale number is shown."""
        if not self.running:
            return self.fraction, "%p%"
        if self.phase in ("caching_features", "refitting"):
            frac = self.sub_done / self.sub_total if self.sub_total else None
            label = "Preparing features %p%" if self.phase == "caching_features" else "Training again %p%"
            return (None if frac is None else min(1.0, frac)), label
        if self.phase in BUSY_PHASES:
            return None, PHASE_TEXT.get(self.phase, "")
        return self.fraction, "%p%"

    def progress_text(self) -> str:
        phase = PHASE_TEXT.get(self.phase, self.phase.replace("_", " ").capitalize())
        if self.detail:
            phase = f"{phase}: {self.detail}"
        if not self.running:
            return {"completed": "Finished.", "cancelled": "Cancelled.", "failed": "Stopped by an error.",
                    "crashed": "The engine stopped unexpectedly."}.get(self.stopped or "", phase)
        parts = [phase]
        if self.phase != "training":
            return phase + (f" ({self.sub_done} of {self.sub_total})" if self.sub_total else "")
        if self.epochs:
            parts.append(f"epoch {self.epoch} of {self.epochs}")
        if self.steps:
            parts.append(f"step {self.step} of {self.steps}")
        if self.samples_per_s:
            parts.append(f"{self.samples_per_s:.0f} examples/s")
        if self.eta_s is not None:
            parts.append(f"about {fmt.duration(self.eta_s)} left")
        return " · ".join(parts)


__all__ = ["TrainSettings", "RunState", "build_config", "ConfigError", "PHASE_TEXT"]
