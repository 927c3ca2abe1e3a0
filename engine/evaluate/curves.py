"""ROC and precision-recall curves with AUC and average precision, and their 95% intervals.

scikit-learn computes the curves and the point figures; intervals come from the same
seeded bootstrap as the other scores (1000 resamples of the examples; a resample that
lacks one of the two classes is left out). Curves are thinned to at most MAX_POINTS
points so metrics.json and the report stay small; the figures are computed on all points.
"""
from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from .calibration import chunks
from .metrics import N_BOOTSTRAP, SEED, _interval, _weighted_auc

MAX_POINTS = 200


def _thin(*cols: np.ndarray) -> list[list[float]]:
    n = len(cols[0])
    keep = np.unique(np.r_[np.linspace(0, n - 1, min(n, MAX_POINTS)).round().astype(int), n - 1])
    return [[round(float(c[i]), 5) for i in keep] for c in cols]


def _weighted_ap(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average precision (scikit-learn's step-wise definition, ties grouped) per row of weights (B, n)."""
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    w = weights[:, order].astype(np.float64)
    pos = positive[order].astype(np.float64)
    tp = np.cumsum(np.add.reduceat(w * pos, starts, axis=1), axis=1)
    fp = np.cumsum(np.add.reduceat(w * (1 - pos), starts, axis=1), axis=1)
    total = tp[:, -1:]
    precision = tp / np.where(tp + fp > 0, tp + fp, 1)
    recall = tp / np.where(total > 0, total, 1)
    gain = np.diff(np.c_[np.zeros(len(w)), recall], axis=1)
    return np.where((total[:, 0] > 0) & (fp[:, -1] > 0), (gain * precision).sum(axis=1), np.nan)


def binary_curves(y_pos, score, n_boot: int = N_BOOTSTRAP, seed: int = SEED) -> dict | None:
    """{roc: {fpr, tpr, auc, ci95}, pr: {recall, precision, ap, ci95, prevalence}} or None
    when the examples do not hold both classes."""
    y = np.asarray(y_pos, dtype=np.int64)
    s = np.asarray(score, dtype=np.float64)
    if len(y) < 2 or y.min() == y.max():
        return None
    fpr, tpr, _ = skm.roc_curve(y, s)
    precision, recall, _ = skm.precision_recall_curve(y, s)
    rng = np.random.default_rng(seed)
    aucs, aps = [], []
    for b in chunks(n_boot, len(y)):  # resample weights (b, n) a chunk at a time: bounded memory
        weights = rng.multinomial(len(y), np.full(len(y), 1.0 / len(y)), size=b)
        aucs.append(_weighted_auc(s, y == 1, weights))
        aps.append(_weighted_ap(s, y == 1, weights))
    fx, fy = _thin(fpr, tpr)
    rx, ry = _thin(recall[::-1], precision[::-1])
    return {"roc": {"fpr": fx, "tpr": fy, "auc": float(skm.roc_auc_score(y, s)),
                    "ci95": _interval(np.concatenate(aucs))},
            "pr": {"recall": rx, "precision": ry, "ap": float(skm.average_precision_score(y, s)),
                   "ci95": _interval(np.concatenate(aps)), "prevalence": float(y.mean())}}


def one_vs_rest_curves(y, probs, classes: list[str], n_boot: int = N_BOOTSTRAP, seed: int = SEED) -> list[dict]:
    """binary_curves of each class against the rest: [{class, roc, pr}] (classes absent here skipped)."""
    y = np.asarray(y)
    p = np.asarray(probs, dtype=np.float64)
    out = []
    for k, name in enumerate(classes):
        c = binary_curves(y == k, p[:, k], n_boot=n_boot, seed=seed)
        if c is not None:
            out.append({"class": name, **c})
    return out
