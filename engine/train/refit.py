"""Refit: after early stopping has chosen how long to train, train once more on train + validation.

With 10 examples per class, holding 15% back for validation costs a sixth of the data the
final model could learn from, while the validation set (a handful of examples) is only good
for one decision: how many epochs. So the run first trains and validates as usual, then a
fresh model trains on train + validation for the epoch count that won (AutoGluon's
`refit_full`, scikit-learn's `refit=True`). The test split stays untouched, so test
metrics remain honest; validation metrics are those of the model that was selected on it
(kept in checkpoints/selected), since the refit model has seen those examples.

State lives in refit.json ("running" / "done") so a cancelled or crashed refit resumes,
and checkpoints/best always holds a loadable model: the selected one until the refit model
is complete, which then replaces it in one atomic step.
"""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from .. import protocol
from ..atomic import atomic_dir, read_json, write_json

REFIT_FILE = "refit.json"
REFIT_LAST = "refit"  # checkpoints/refit: the refit phase's own "last"


class RefitView:
    """The dataset with validation folded into training (and no validation split)."""

    def __init__(self, dataset):
        self.base = dataset

    def split(self, name: str):
        if name == "train":
            return list(self.base.split("train")) + list(self.base.split("val"))
        if name == "val":
            return []
        return self.base.split(name)

    def __getattr__(self, name):
        return getattr(self.base, name)


class RefitReporter:
    """Progress and logs pass through; per-epoch curves do not (they would restart at epoch 1
    on the live plots, and there is no validation to plot)."""

    def __init__(self, report):
        self._report = report

    def __call__(self, msg) -> None:
        if isinstance(msg, (protocol.Metric, protocol.EpochEnd)):
            return
        if isinstance(msg, protocol.Progress) and msg.phase == "train":
            msg = dataclasses.replace(msg, phase="refit")
        self._report(msg)

    def __getattr__(self, name):
        return getattr(self._report, name)


def load(run_dir: Path) -> dict | None:
    path = Path(run_dir) / REFIT_FILE
    return read_json(path) if path.is_file() else None


def wanted(cfg, state, n_val: int) -> bool:
    return bool(cfg.refit) and n_val > 0 and state.best_epoch >= 1


def begin(run_dir: Path, state, dataset) -> dict:
    """Record the decision before any refit work, so a resume knows which phase it is in."""
    best = next((h for h in state.history if h.get("epoch") == state.best_epoch), {})
    n_examples = len(dataset.split("train")) + len(dataset.split("val"))
    info = {"status": "running", "epochs": int(state.best_epoch), "examples": n_examples,
            "selected": {"epoch": int(state.best_epoch), "monitor_score": state.best_score,
                         "metrics": best}}
    write_json(Path(run_dir) / REFIT_FILE, info)
    return info


def finish(run_dir: Path, save_best) -> dict:
    """Keep the selected model as checkpoints/selected, then make the refit model the best one."""
    run_dir = Path(run_dir)
    best, selected = run_dir / "checkpoints" / "best", run_dir / "checkpoints" / "selected"
    if best.is_dir() and not selected.is_dir():  # a resumed finish must not copy the refit model
        with atomic_dir(selected) as tmp:
            for f in best.iterdir():
                shutil.copy2(f, tmp / f.name)
    save_best()
    info = {**(load(run_dir) or {}), "status": "done"}
    write_json(run_dir / REFIT_FILE, info)
    shutil.rmtree(run_dir / "checkpoints" / REFIT_LAST, ignore_errors=True)
    # a finished refit is never resumed, so the blend's start weights (one backbone each) are dead weight
    from .weight_blend import start_path

    for phase in ("last", REFIT_LAST):
        start_path(run_dir / "checkpoints" / phase).unlink(missing_ok=True)
    return info
