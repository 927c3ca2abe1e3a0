"""The linear probe as a contender: a safety net under every fine-tune.

Fine-tuning can destroy what the frozen features knew (negative transfer): on a held-out
binary text task at 200 per class a fine-tune's validation accuracy fell from 60 to 53 %
while a logistic regression on the frozen features scored 82 % on test (issue 19). The
head warm-up has already computed those features, so a properly regularised probe costs
seconds: scikit-learn's logistic regression on standardised features, its regularisation C
chosen by stratified cross-validation on the training split only. Both models are then
scored on the same validation examples, which neither trained on, and the better one is
saved by the rule below. The fine-tune is scored as it would be saved (with the WiSE-FT
blend when that is on) at the epoch validation selected, which gives it a slightly optimistic
score: the benefit of the doubt goes to the recipe's primary model. The probe must score
higher AND be right on more of the examples where the two disagree, beyond chance (the exact
McNemar test the simple contender passes, engine/significance.py); otherwise, ties included,
the fine-tune stays. Until 2026-12-07 evening a higher score was enough, and every probe win
in the suite was by 1-3 validation examples, which on test went either way
(benchmarks/PROBE_MCNEMAR.md; ties: benchmarks/PROBE_TIES.md).

The probe is an ordinary model of the same architecture: the pretrained backbone with the
standardisation folded into the head's weights, so it saves, exports to ONNX and loads in
`predict.py` like any other. It needs a head that is one linear layer on the features
(every default backbone); others skip the comparison and say so.

State: `contender.json` ("pending" with the probe's scores once fitted, then "decided"
with both scores and the winner) and `checkpoints/probe/`, so a resumed run decides the
same way.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_dir, read_json, write_json
from ..significance import beyond_chance, mcnemar_p
from . import checkpoint as ckpt
from .callbacks import Callback

CONTENDER_FILE = "contender.json"
PROBE_DIR = "probe"
C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0)  # inverse regularisation strengths tried by cross-validation
CV_FOLDS = 5
CV_MAX_EXAMPLES = 4000  # C is chosen on at most this many training examples (then fitted on all)
RULE = ("the linear probe replaces the fine-tune only when its validation score is higher and it is right on more "
        "of the examples where the two disagree beyond chance (exact one-sided McNemar test, p < 0.05); otherwise, "
        "ties included, the fine-tune stays")


def load(run_dir: Path) -> dict | None:
    path = Path(run_dir) / CONTENDER_FILE
    return read_json(path) if path.is_file() else None


def output_layer(model, spec, n_classes: int, n_features: int) -> tuple[str, str] | None:
    """(weight name, bias name) when the head is exactly one linear layer features -> classes."""
    head = {n: p for n, p in model.named_parameters() if spec.head.covers(n)}
    weights = [n for n, p in head.items() if p.dim() == 2]
    if len(weights) != 1 or len(head) != 2:
        return None
    w = weights[0]
    b = w[: -len("weight")] + "bias"
    if b not in head or tuple(head[w].shape) != (n_classes, n_features) or tuple(head[b].shape) != (n_classes,):
        return None
    return w, b


def _cv_folds(y: np.ndarray, seed: int):
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(y)
    k = int(min(CV_FOLDS, counts[counts > 0].min()))
    return StratifiedKFold(n_splits=k, shuffle=True, random_state=seed) if k >= 2 else None


def fit(x: np.ndarray, y: np.ndarray, n_classes: int, seed: int, balanced: bool = False) -> dict:
    """Logistic regression with C chosen by cross-validation, folded into one linear layer.

    Returns {"weight" (classes x features), "bias", "C", "cv_accuracy"}; classes absent from
    `y` get a bias far below the others, so the layer never predicts them."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    x = np.asarray(x, dtype=np.float64)
    mean, std = x.mean(0), x.std(0)
    std[std < 1e-8] = 1.0
    z = (x - mean) / std
    present = np.unique(y)
    if len(present) < 2:
        raise ValueError("a probe needs examples of at least two classes")
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(y))[:CV_MAX_EXAMPLES] if len(y) > CV_MAX_EXAMPLES else np.arange(len(y))
    folds = _cv_folds(y[idx], seed)
    # imbalanced classes (the recipe's class_weighted): weighted by inverse frequency, C chosen on balanced accuracy
    weight, scoring = ("balanced", "balanced_accuracy") if balanced else (None, "accuracy")
    best_c, best_score = 1.0, None
    if folds is not None:
        for c in C_GRID:
            clf = LogisticRegression(C=c, max_iter=2000, class_weight=weight)
            score = float(cross_val_score(clf, z[idx], y[idx], cv=folds, scoring=scoring).mean())
            if best_score is None or score > best_score + 1e-9:
                best_c, best_score = c, score
    clf = LogisticRegression(C=best_c, max_iter=3000, class_weight=weight).fit(z, y)
    coef, intercept = clf.coef_, clf.intercept_
    if len(clf.classes_) == 2:  # scikit-learn keeps one row for two classes: logits (-f/2, +f/2)
        coef, intercept = np.vstack([-coef[0] / 2, coef[0] / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    weight = np.zeros((n_classes, x.shape[1]))
    bias = np.full(n_classes, -1e4)
    for row, cls in enumerate(clf.classes_):
        weight[cls] = coef[row] / std
        bias[cls] = intercept[row] - float((coef[row] * mean / std).sum())
    return {"weight": weight, "bias": bias, "C": best_c, "cv_accuracy": best_score}


def scores(logits: torch.Tensor, y: torch.Tensor) -> dict:
    """The validation figures the training loop reports, for logits already computed."""
    from .loop import classification_values

    return classification_values(y.cpu().numpy(), logits.float().cpu(), prefix="val_")


def _layer(probe: dict, device) -> torch.nn.Linear:
    w = torch.as_tensor(probe["weight"], dtype=torch.float32)
    layer = torch.nn.Linear(w.shape[1], w.shape[0]).to(device)
    with torch.no_grad():
        layer.weight.copy_(w.to(device))
        layer.bias.copy_(torch.as_tensor(probe["bias"], dtype=torch.float32, device=device))
    return layer


def probe_tensors(base: dict, names: tuple[str, str], probe: dict) -> dict:
    """`base` (the pretrained network's tensors) with the probe as its head."""
    tensors = dict(base)
    w, b = names
    tensors[w] = torch.as_tensor(probe["weight"], dtype=tensors[w].dtype).contiguous()
    tensors[b] = torch.as_tensor(probe["bias"], dtype=tensors[b].dtype).contiguous()
    return tensors


class Contender:
    """Fitted once the head warm-up has the frozen features; decides after the fine-tune."""

    def __init__(self, run_dir: Path, model, spec, names, feats: dict, seed: int, report, balanced: bool = False):
        self.run_dir, self.model, self.spec, self.names = Path(run_dir), model, spec, names
        self.feats, self.seed, self.report, self.balanced = feats, seed, report, balanced

    @classmethod
    def prepare(cls, run_dir: Path, model, spec, feats: dict, n_classes: int, seed: int, report,
                balanced: bool = False):
        """Fit the probe on the training features, score it on validation, save it; None if it cannot compete."""
        if "val" not in feats or "train" not in feats:
            return None
        x, y = feats["train"]
        names = output_layer(model, spec, n_classes, int(x.shape[1]))
        if names is None:
            report.log(f"The linear-probe comparison is skipped: {spec.display_name}'s head is not one linear layer.")
            return None
        if len(torch.unique(y)) < 2:
            return None
        probe = fit(x.cpu().numpy(), y.cpu().numpy(), n_classes, seed, balanced)
        xv, yv = feats["val"]
        with torch.inference_mode():
            val = scores(_layer(probe, xv.device)(xv.float()), yv)
        ckpt.save_checkpoint(Path(run_dir) / "checkpoints" / PROBE_DIR, None,
                             {"epoch": 0, "model": "linear probe", "C": probe["C"], "metrics": val},
                             tensors=probe_tensors(ckpt.state_dict_tensors(model), names, probe))
        write_json(Path(run_dir) / CONTENDER_FILE,
                   {"status": "pending", "rule": RULE, "probe": {"C": probe["C"], "cv_accuracy": probe["cv_accuracy"],
                                                                 "val": val}})
        cv = f", cross-validated {probe['cv_accuracy']:.3f}" if probe["cv_accuracy"] is not None else ""
        report.log(f"Linear probe on the frozen features (C={probe['C']:g}{cv}): validation accuracy "
                   f"{val['val_accuracy']:.3f}. It replaces the fine-tune only if it scores higher on validation, beyond "
                   "chance.")
        return cls(run_dir, model, spec, names, feats, seed, report, balanced)

    @classmethod
    def restore(cls, phase, dataset):
        """After a resume: the saved probe's frozen body gives the same features again (for the refit)."""
        from ..freezing import split_for_features
        from .device import amp_dtype_for
        from .head_warmup import frozen_features

        model = phase.model
        ckpt.load_model_weights(Path(phase.run_dir) / "checkpoints" / PROBE_DIR, model)
        feats = frozen_features(model, phase.spec, dataset, phase.meta, phase.cfg, phase.device,
                                amp_dtype=amp_dtype_for(phase.device), channels_last=phase.meta["modality"] == "image",
                                tokenizer=phase.tokenizer, report=phase.report, cancel=phase.cancel,
                                split_for_features=split_for_features, detail="Computing the probe's features again")
        n_classes = len(phase.meta["classes"])
        names = output_layer(model, phase.spec, n_classes, int(feats["train"][0].shape[1]))
        return cls(phase.run_dir, model, phase.spec, names, feats, phase.cfg.seed, phase.report,
                   bool(phase.cfg.class_weighted))

    def refit(self, n_examples: int) -> None:
        """Fit the probe again on train + validation (C chosen again) and make it the model; the one
        fitted on train alone stays as checkpoints/selected, which validation scores."""
        from .refit import REFIT_FILE

        cps = self.run_dir / "checkpoints"
        x = torch.cat([self.feats["train"][0], self.feats["val"][0]]).cpu().numpy()
        y = torch.cat([self.feats["train"][1], self.feats["val"][1]]).cpu().numpy()
        probe = fit(x, y, int(self.model.state_dict()[self.names[1]].shape[0]), self.seed, self.balanced)
        _copy_dir(cps / PROBE_DIR, cps / "selected")
        install_probe(self.run_dir)
        from safetensors.torch import load_file

        base = load_file(str(cps / PROBE_DIR / "model.safetensors"))  # the network as it was before fine-tuning
        ckpt.save_checkpoint(cps / "best", None, {"epoch": 0, "model": "linear probe", "C": probe["C"],
                                                  "refit": True, "metrics": {}},
                             tensors=probe_tensors(base, self.names, probe))
        write_json(self.run_dir / REFIT_FILE, {"status": "done", "model": "linear probe", "epochs": None,
                                               "examples": int(n_examples), "members": 1})
        self.report.log(f"Linear probe fitted again on train + validation ({n_examples} examples, C={probe['C']:g}).")


def _copy_dir(src: Path, dst: Path) -> None:
    with atomic_dir(dst) as tmp:
        for f in src.iterdir():
            shutil.copy2(f, tmp / f.name)


def decide(run_dir: Path, finetune_val: dict, monitor: str, higher_is_better: bool, report,
           disagreements=None) -> dict | None:
    """Compare the pending probe with the fine-tune's validation figures; record and return the decision.
    `disagreements()` gives (probe right and fine-tune wrong, fine-tune right and probe wrong) on the same
    validation examples; it is called only when the probe scores higher."""
    info = load(run_dir)
    if not info or info.get("status") == "decided":
        return info
    probe_val = info["probe"]["val"]
    key = monitor if monitor in probe_val and monitor in finetune_val else "val_accuracy"
    p, f = probe_val.get(key), finetune_val.get(key)
    sign = 1 if higher_is_better or key == "val_accuracy" else -1
    winner, test = "fine-tune", None
    if p is not None and f is not None and sign * (p - f) > 1e-9:
        wins, losses = disagreements() if disagreements is not None else (0, 0)
        test = {"probe_right_finetune_wrong": int(wins), "finetune_right_probe_wrong": int(losses),
                "p_value": mcnemar_p(wins, losses)}
        winner = "linear probe" if beyond_chance(wins, losses) else "fine-tune"
    info = {**info, "status": "decided", "monitor": key, "winner": winner, "rule": RULE,
            "fine_tune": {"val": {k: v for k, v in finetune_val.items() if k.startswith("val_")}},
            **({"disagreements": test} if test else {})}
    write_json(Path(run_dir) / CONTENDER_FILE, info)
    name = key.removeprefix("val_").replace("_", " ")
    if winner == "linear probe":
        report.log(f"The linear probe on the frozen features is kept: validation {name} {p:.3f} against the "
                   f"fine-tune's {f:.3f} on the same examples; right on {test['probe_right_finetune_wrong']} the "
                   f"fine-tune got wrong, wrong on {test['finetune_right_probe_wrong']} it got right (McNemar p = "
                   f"{test['p_value']:.3g}).", level="warning")
    elif test:
        report.log(f"The fine-tune is kept: the linear probe scored higher on validation ({name} {p:.3f} against "
                   f"{f:.3f}) but not beyond chance (right on {test['probe_right_finetune_wrong']} the fine-tune got "
                   f"wrong, wrong on {test['finetune_right_probe_wrong']} it got right; McNemar p = "
                   f"{test['p_value']:.3g}).")
    elif p is not None and f is not None:
        report.log(f"The fine-tune is kept: validation {name} {f:.3f} against the linear probe's {p:.3f}.")
    else:
        report.log(f"The fine-tune is kept: the linear probe and the fine-tune could not both be scored on "
                   f"validation {name}.")
    return info


def disagreements(phase) -> tuple[int, int]:
    """(probe right and fine-tune wrong, fine-tune right and probe wrong) on the validation split, each model
    as it would be saved; the model's own weights are put back afterwards."""
    model, cps = phase.model, Path(phase.run_dir) / "checkpoints"
    before = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    try:
        ckpt.load_model_weights(cps / "best", model)
        y, finetune = phase.loop.val_predictions()
        ckpt.load_model_weights(cps / PROBE_DIR, model)
        y_probe, probe = phase.loop.val_predictions()
    finally:
        model.load_state_dict(before)
    if not np.array_equal(y, y_probe):  # the same examples in the same order, or no test at all
        return 0, 0
    right_p, right_f = probe == y, finetune == y
    return int((right_p & ~right_f).sum()), int((right_f & ~right_p).sum())


def install_probe(run_dir: Path) -> None:
    """Make the probe the run's best model (the fine-tune's stays as checkpoints/finetune)."""
    cps = Path(run_dir) / "checkpoints"
    best, kept = cps / "best", cps / "finetune"
    if best.is_dir() and not kept.is_dir():
        _copy_dir(best, kept)
    _copy_dir(cps / PROBE_DIR, best)


class PrepareContender(Callback):
    """After the head warm-up (place it after HeadWarmup), fit the probe on the features the
    warm-up computed. Its state lives in contender.json and checkpoints/probe, not here."""

    def __init__(self, warmup, run_dir: Path, spec, n_classes: int, seed: int, balanced: bool = False):
        self.warmup, self.run_dir, self.spec, self.n_classes, self.seed = warmup, run_dir, spec, n_classes, seed
        self.balanced = balanced
        self.contender: Contender | None = None

    def on_fit_start(self, loop, state, resumed: bool) -> None:
        if self.warmup.features is not None:
            self.contender = Contender.prepare(self.run_dir, loop.model, self.spec, self.warmup.features,
                                               self.n_classes, self.seed, loop.report, self.balanced)


def keep_probe_if_better(phase, refit_wanted: bool, dataset) -> bool:
    """Decide between the fine-tune and the linear probe (the rule above); True when the probe is kept."""
    from .loop import HIGHER_IS_BETTER

    pending = load(phase.run_dir)
    if not pending:
        return False
    if pending.get("status") != "decided":
        pending = decide(phase.run_dir, phase.saved_val(), phase.loop.monitor,
                         HIGHER_IS_BETTER.get(phase.loop.monitor, False), phase.report,
                         disagreements=lambda: disagreements(phase))
    if pending.get("winner") != "linear probe":
        return False
    if refit_wanted:
        refit_probe(phase, dataset)
    else:
        install_probe(phase.run_dir)
    return True


def refit_probe(phase, dataset) -> None:
    """The kept probe fitted again on train + validation (a resumed run computes its features again,
    so it ends as an uninterrupted one)."""
    contender = phase.contender or Contender.restore(phase, dataset)
    contender.refit(len(dataset.split("train")) + len(dataset.split("val")))
