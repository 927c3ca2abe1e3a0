"""Refit: after early stopping has chosen how long to train, train once more on train + validation.

With 10 examples per class, holding 15% back for validation costs a sixth of the data the
final model could learn from, while the validation set (a handful of examples) is only good
for one decision: how many epochs. So the run first trains and validates as usual, then a
fresh model trains on train + validation for the epoch count that won (AutoGluon's
`refit_full`, scikit-learn's `refit=True`), or, with `refit_epochs="trained"`, for as long as
the first run trained. The test split stays untouched, so test metrics remain honest;
validation metrics are those of the model that was selected on it (kept in
checkpoints/selected), since the refit model has seen those examples.

With `refit_soup` N > 1 the refit runs N times, each member with its own seed (data order,
augmentation, head fit), and the saved model is their parameter-by-parameter mean, a
uniform model soup (Wortsman et al., ICML 2022): the members share the pretrained start, so
their average is one model of the same architecture that varies less with the luck of one
data order (Fashion-MNIST 10 per class: benchmarks/ACCURACY.md). A finished member is kept
as checkpoints/soup-<i>.safetensors and counted in refit.json, so a resume starts at the
first unfinished one.

State lives in refit.json ("running" / "done") so a cancelled or crashed refit resumes,
and checkpoints/best always holds a loadable model: the selected one until the refit model
is complete, which then replaces it in one atomic step.
"""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from .. import protocol
from ..atomic import atomic_dir, read_json, write_bytes, write_json
from .callbacks import Callback

REFIT_FILE = "refit.json"
REFIT_LAST = "refit"  # checkpoints/refit: the refit phase's own "last"
SEED_STEP = 1000  # soup member i trains with seed + i * SEED_STEP


class RefitView:
    """The dataset with validation folded into training (and no validation split)."""

    def __init__(self, dataset):
        self.base = dataset

    PARTS = {"train": ("train", "val"), "val": ()}

    def parts(self, name: str) -> list[str]:
        """The base splits this view's split is made of, in order (the feature cache reads them one by one)."""
        return list(self.PARTS.get(name, (name,)))

    def split(self, name: str):
        return [e for part in self.parts(name) for e in self.base.split(part)]

    def __getattr__(self, name):
        return getattr(self.base, name)


class RefitReporter:
    """Progress and logs pass through; per-epoch curves do not (they would restart at epoch 1
    on the live plots, and there is no validation to plot)."""

    def __init__(self, report, label: str = ""):
        self._report, self._label = report, label  # label: "refit 2 of 3" in a soup

    def __call__(self, msg) -> None:
        if isinstance(msg, (protocol.Metric, protocol.EpochEnd)):
            return
        if isinstance(msg, protocol.Status) and self._label:
            msg = dataclasses.replace(msg, detail=f"{self._label} · {msg.detail}" if msg.detail else self._label)
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


def begin(run_dir: Path, state, dataset, members: int = 1, until: str = "best") -> dict:
    """Record the decision before any refit work, so a resume knows which phase it is in.

    until="best": the refit trains for the epoch count that won on validation; "trained": as
    long as the first run trained (until early stopping ended it, or the whole schedule). With
    a validation split of a handful of examples the winning epoch is mostly luck, while the
    point where validation stopped improving is a steadier signal (Fashion-MNIST 10 per class,
    benchmarks/ACCURACY.md)."""
    best = next((h for h in state.history if h.get("epoch") == state.best_epoch), {})
    n_examples = len(dataset.split("train")) + len(dataset.split("val"))
    epochs = int(state.epoch) if until == "trained" else int(state.best_epoch)
    info = {"status": "running", "epochs": epochs, "until": until, "examples": n_examples,
            "members": int(members), "members_done": 0,
            "selected": {"epoch": int(state.best_epoch), "monitor_score": state.best_score,
                         "metrics": best}}
    write_json(Path(run_dir) / REFIT_FILE, info)
    return info


def member_last(run_dir: Path, i: int) -> Path:
    """Soup member i's own "last" checkpoint (member 0 uses checkpoints/refit, as a single refit)."""
    return Path(run_dir) / "checkpoints" / (REFIT_LAST if i == 0 else f"{REFIT_LAST}-{i + 1}")


def _member_file(run_dir: Path, i: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"soup-{i + 1}.safetensors"


def keep_member(run_dir: Path, i: int, tensors: dict) -> dict:
    """Store a finished member's final weights, count it, and drop its resume state."""
    from safetensors.torch import save

    write_bytes(_member_file(run_dir, i), save({k: v.contiguous() for k, v in tensors.items()}))
    info = {**(load(run_dir) or {}), "members_done": i + 1}
    write_json(Path(run_dir) / REFIT_FILE, info)
    _drop_resume_state(run_dir, i)
    return info


class KeepMember(Callback):
    """A soup member's last hook: once its phase ends, store its final weights and count it."""

    def __init__(self, run_dir: Path, i: int, final_tensors):
        self.run_dir, self.i, self.final_tensors = run_dir, i, final_tensors

    def on_fit_end(self, loop, state) -> None:
        keep_member(self.run_dir, self.i, self.final_tensors())


def _drop_resume_state(run_dir: Path, i: int) -> None:
    """Member i's "last" checkpoint and blend start: only a resume of that member needs them."""
    from .weight_blend import start_path

    shutil.rmtree(member_last(run_dir, i), ignore_errors=True)
    start_path(member_last(run_dir, i)).unlink(missing_ok=True)


def soup(run_dir: Path, members: int) -> dict:
    """The uniform average of the kept members (integer buffers, e.g. BatchNorm counters, from the first)."""
    from safetensors.torch import load_file

    first = load_file(str(_member_file(run_dir, 0)))
    total = {k: v.double() for k, v in first.items() if v.is_floating_point()}
    for i in range(1, members):
        for k, v in load_file(str(_member_file(run_dir, i))).items():
            if k in total:
                total[k] += v.double()
    return {k: ((total[k] / members).to(v.dtype) if k in total else v).contiguous() for k, v in first.items()}


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
    # a finished refit is never resumed: its resume state, the soup's members and the blend's start
    # weights (one backbone each) are dead weight
    from .weight_blend import start_path

    start_path(run_dir / "checkpoints" / "last").unlink(missing_ok=True)
    for i in range(max(1, int(info.get("members", 1)))):
        _drop_resume_state(run_dir, i)
        _member_file(run_dir, i).unlink(missing_ok=True)
    return info


def run(info: dict, main, dataset) -> None:
    """Train again on train + validation, once or once per soup member, and make that the model.

    `main` is the run's main training phase (run._Phase); each refit is a phase of the same kind."""
    from . import checkpoint as ckpt

    n, epochs, run_dir = int(info.get("members", 1)), int(info["epochs"]), main.run_dir
    how = "the first run trained" if info.get("until") == "trained" else "early stopping chose"
    main.report.log(f"Training again on train + validation ({info['examples']} examples) for the {epochs} "
                    f"epoch{'s' if epochs != 1 else ''} {how}"
                    + (f", {n} times in different orders, then averaging the {n} models." if n > 1 else "."))
    sub = None
    for i in range(int(info.get("members_done", 0)), n):
        last = member_last(run_dir, i)
        cfg = main.cfg if i == 0 else main.cfg.replace(seed=main.cfg.seed + SEED_STEP * i)
        label = f"refit {i + 1} of {n}" if n > 1 else ""
        sub = type(main)(cfg, main.spec, main.meta, run_dir, main.device, RefitReporter(main.report, label),
                         main.cancel, main.tokenizer, stop_epoch=epochs)
        keep = [KeepMember(run_dir, i, sub.final_tensors)] if n > 1 else []
        sub.fit(RefitView(dataset), last=last, resume=ckpt.has_checkpoint(last), callbacks=keep)
    if n == 1:
        finish(run_dir, sub.save_final)
        return
    state = {"epoch": epochs, "global_step": sub.state.global_step if sub else None, "best_score": None,
             "monitor": main.cfg.monitor, "metrics": {}, "refit": True, "refit_soup": n,
             "finetune_blend": main.cfg.finetune_blend if main.blend_wanted() else 1.0}
    finish(run_dir, lambda: ckpt.save_checkpoint(run_dir / "checkpoints" / "best", None, state,
                                                 tensors=soup(run_dir, n)))
