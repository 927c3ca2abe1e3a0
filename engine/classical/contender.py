"""The simple model as a contender: kept only when validation shows transfer lost, beyond chance.

Negative transfer happens: on a held-out 3-class text task at 200 per class, logistic
regression on TF-IDF words scored 79 % against 65-69 % for the auto recipe, a linear probe
and a plain fine-tune (issue 19); on 8x8 digits raw pixels beat an ImageNet backbone by 5-10
points (benchmarks/ACCURACY_NOTES.md). So after the network is chosen (fine-tune or probe),
the simple model fits on the same training examples and both predict the same validation
examples. The rule, fixed before any result:

  the simple model replaces the network only when it scores higher on the monitored
  validation figure AND it is right on more of the examples where the two disagree, beyond
  chance: an exact one-sided McNemar (sign) test on those examples, p < 0.05.

The network is the recipe's primary model, so the doubt goes its way: on a handful of
validation examples the simple model cannot win by luck (with 3 disagreements, even 3 to 0
gives p = 0.125). The simple model fitted on train is kept in checkpoints/simple either way
(a few kB; benchmarks score it). When it wins, it is refitted on train + validation if the
recipe refits, and the network stays in checkpoints/network. The decision lives in
contender.json ("simple"), so a resumed run decides the same way.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import protocol
from ..atomic import atomic_dir, read_json, write_json
from ..significance import ALPHA, beyond_chance, mcnemar_p
from .model import KIND_OF_MODALITY, fit, spread

CONTENDER_FILE = "contender.json"  # shared with train/probe_contender.py
SIMPLE_DIR, NETWORK_DIR = "simple", "network"
WINNER = "simple model"
MAX_VAL_EXAMPLES = 1000  # both models predict at most this many validation examples (evenly spread)
RULE = ("the simple model is kept only when its validation score is higher and it is right on more of the examples "
        f"where the two disagree beyond chance (exact one-sided McNemar test, p < {ALPHA:g}); otherwise the network")


def _figures(y: np.ndarray, pred: np.ndarray) -> dict:
    from sklearn.metrics import balanced_accuracy_score

    return {"val_accuracy": float((y == pred).mean()), "val_balanced_accuracy": float(balanced_accuracy_score(y, pred))}


def _load(run_dir: Path) -> dict:
    path = run_dir / CONTENDER_FILE
    return read_json(path) if path.is_file() else {}


def _copy_dir(src: Path, dst: Path) -> None:
    import shutil

    with atomic_dir(dst) as tmp:
        for f in src.iterdir():
            shutil.copy2(f, tmp / f.name)


def _fit(dataset, items: list, window: str, balanced: bool):
    from .predictor import read_inputs

    kind, chosen = KIND_OF_MODALITY[dataset.modality], spread(items)
    inputs, kept = read_inputs(kind, chosen, window)
    y = np.array([chosen[i].label for i in kept])
    return fit(kind, inputs, y, list(dataset.classes), balanced, window)


def challenge(phase, dataset, refit_wanted: bool) -> bool:
    """Fit the simple model, compare it with the network checkpoints/best holds now, keep the better by
    the rule above; True when the simple model is kept (then it is already checkpoints/best)."""
    from ..inference import Predictor
    from .model import SimpleModel, is_simple
    from .predictor import SimplePredictor

    run_dir, cfg, report = Path(phase.run_dir), phase.cfg, phase.report
    info = _load(run_dir)
    window, balanced = getattr(cfg, "dicom_window", "file"), bool(cfg.class_weighted)
    if (info.get("simple") or {}).get("status") == "decided":  # a resumed run: the same decision
        kept = info.get("winner") == WINNER
        if kept and not is_simple(run_dir / "checkpoints" / "best"):  # stopped while installing it
            _install(run_dir, SimpleModel.load(run_dir / "checkpoints" / SIMPLE_DIR), dataset, refit_wanted,
                     window, balanced, report)
        return kept
    val = dataset.split("val")
    if not cfg.compare_simple or not val or dataset.modality not in KIND_OF_MODALITY:
        return False
    report(protocol.Status(phase=protocol.Phase.EVALUATING, detail="Comparing with a simple, non-neural model"))
    try:
        simple = _fit(dataset, list(dataset.split("train")), window, balanced)
    except ValueError as exc:  # e.g. one class readable, or texts without a word
        report.log(f"The simple model could not be fitted ({exc}); the network is kept.")
        return False
    items = spread(list(val), MAX_VAL_EXAMPLES)
    p_simple = SimplePredictor(simple).predict_proba(items, cancel=phase.cancel)
    p_net = Predictor.from_run(run_dir, "best", device=str(phase.device)).predict_proba(items, cancel=phase.cancel)
    ok = np.isfinite(p_simple).all(1) & np.isfinite(p_net).all(1)
    y = np.array([e.label for e in items])[ok]
    pred_s, pred_n = p_simple[ok].argmax(1), p_net[ok].argmax(1)
    wins, losses = int(((pred_s == y) & (pred_n != y)).sum()), int(((pred_s != y) & (pred_n == y)).sum())
    mine, theirs = _figures(y, pred_s), _figures(y, pred_n)
    key = phase.loop.monitor if phase.loop.monitor in mine else "val_accuracy"
    p_value = mcnemar_p(wins, losses)
    kept = mine[key] > theirs[key] + 1e-9 and beyond_chance(wins, losses)
    network = info.get("winner") or "fine-tune"
    info = {"status": "decided", "monitor": key, "rule": info.get("rule") or RULE, **info,
            "winner": WINNER if kept else network, "network_winner": network,
            "simple": {"status": "decided", "method": simple.method, "rule": RULE, "val": mine, "network_val": theirs,
                       "examples": int(ok.sum()), "simple_right_network_wrong": wins,
                       "network_right_simple_wrong": losses, "p_value": p_value}}
    name = key.removeprefix("val_").replace("_", " ")
    versus = (f"validation {name} {mine[key]:.3f} against the network's {theirs[key]:.3f} on the same {int(ok.sum())} "
              f"examples; right on {wins} it got wrong, wrong on {losses} it got right (McNemar p = {p_value:.3g})")
    with atomic_dir(run_dir / "checkpoints" / SIMPLE_DIR) as tmp:  # kept or not, a few kB: it can be scored
        simple.save(tmp)  # saved, then the decision recorded, then installed: a resume finishes what a crash left
    write_json(run_dir / CONTENDER_FILE, info)
    if kept:
        _install(run_dir, simple, dataset, refit_wanted, window, balanced, report)
        report.log(f"A simple model ({simple.method}) is kept instead of the network: {versus}. The pretrained "
                   "backbone did not help this data.", level="warning")
    else:
        report.log(f"The network is kept; a simple model ({simple.method}) had {versus}.")
    return kept


def _install(run_dir: Path, simple, dataset, refit_wanted: bool, window: str, balanced: bool, report) -> None:
    """checkpoints/best becomes the simple model (refitted on train + validation when the recipe refits);
    the network moves to checkpoints/network, the model fitted on train alone to checkpoints/selected."""
    from ..train.refit import REFIT_FILE

    cps = run_dir / "checkpoints"
    if (cps / "best").is_dir() and not (cps / NETWORK_DIR).is_dir():
        _copy_dir(cps / "best", cps / NETWORK_DIR)
    if not refit_wanted:
        _copy_dir(cps / SIMPLE_DIR, cps / "best")
        return
    both = list(dataset.split("train")) + list(dataset.split("val"))
    refitted = _fit(dataset, both, window, balanced)
    _copy_dir(cps / SIMPLE_DIR, cps / "selected")
    with atomic_dir(cps / "best") as tmp:
        refitted.save(tmp)
    write_json(run_dir / REFIT_FILE, {"status": "done", "model": WINNER, "epochs": None,
                                      "examples": len(both), "members": 1})
    report.log(f"The simple model was fitted again on train + validation ({len(both)} examples).")
