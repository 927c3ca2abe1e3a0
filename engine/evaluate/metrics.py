"""Scores for a set of predictions, with 95% intervals.

Point estimates come from scikit-learn. Rates (accuracy, sensitivity, specificity, PPV,
NPV) get the Wilson score interval of their own count: a percentile bootstrap collapses to
a point when every example is right ("100 % (100-100)" on 4 texts), while Wilson gives
51-100 %. Composite scores (balanced accuracy, macro F1, ROC AUC) resample the examples
1000 times (seeded) and recompute the quantity from each resample's confusion matrix,
which is cheap with numpy; a resample where a quantity is undefined (say, no positive
examples) is left out, and an interval that collapses to a point is not given at all.
"""
from __future__ import annotations

import math

import numpy as np
from sklearn import metrics as skm

N_BOOTSTRAP = 1000
SEED = 0
TOP_K = (2, 3, 5)
N_CONFIDENT_ERRORS = 10


def _num(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def _interval(samples: np.ndarray) -> list | None:
    s = np.asarray(samples, dtype=np.float64)
    s = s[~np.isnan(s)]
    if s.size < 2:
        return None
    lo, hi = np.percentile(s, [2.5, 97.5])
    return [float(lo), float(hi)]


Z95 = 1.959963984540054


def wilson(successes: float, n: float, z: float = Z95) -> list | None:
    """The Wilson score interval of a proportion successes / n (None when n is 0)."""
    if n <= 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def _rate_intervals(cm: np.ndarray) -> dict[str, list | None]:
    """Wilson intervals of accuracy and, for two classes, the four rates at class 1 positive."""
    cm = np.asarray(cm, dtype=np.float64)
    out = {"accuracy": wilson(float(np.trace(cm)), float(cm.sum()))}
    if cm.shape == (2, 2):
        tn, fp, fn, tp = cm[0, 0], cm[0, 1], cm[1, 0], cm[1, 1]
        out.update(sensitivity=wilson(tp, tp + fn), specificity=wilson(tn, tn + fp), ppv=wilson(tp, tp + fp),
                   npv=wilson(tn, tn + fn))
    return out


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _from_confusion(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-resample statistics from confusion matrices shaped (B, C, C), rows = truth."""
    tp = np.diagonal(cm, axis1=1, axis2=2).astype(np.float64)
    support = cm.sum(axis=2).astype(np.float64)
    predicted = cm.sum(axis=1).astype(np.float64)
    n = support.sum(axis=1)
    fp, fn = predicted - tp, support - tp
    f1_den = 2 * tp + fp + fn
    f1 = np.where(f1_den > 0, 2 * tp / np.where(f1_den > 0, f1_den, 1), 0.0)  # zero_division=0
    recall = _div(tp, support)
    out = {
        "accuracy": _div(tp.sum(axis=1), n),
        "macro_f1": f1.mean(axis=1),
        "balanced_accuracy": np.nanmean(np.where(support > 0, recall, np.nan), axis=1),
    }
    if cm.shape[1] == 2:  # class 1 is the positive class
        tn, fp1, fn1, tp1 = cm[:, 0, 0], cm[:, 0, 1], cm[:, 1, 0], cm[:, 1, 1]
        out["sensitivity"] = _div(tp1, tp1 + fn1)
        out["specificity"] = _div(tn, tn + fp1)
        out["ppv"] = _div(tp1, tp1 + fp1)
        out["npv"] = _div(tn, tn + fn1)
    return out


def _weighted_auc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC (ties count one half) for each row of example weights (B, n)."""
    order = np.argsort(scores, kind="stable")
    s = scores[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    w = weights[:, order].astype(np.float64)
    pos = positive[order].astype(np.float64)
    gp = np.add.reduceat(w * pos, starts, axis=1)
    gn = np.add.reduceat(w * (1 - pos), starts, axis=1)
    below = np.cumsum(gn, axis=1) - gn
    num = (gp * (below + 0.5 * gn)).sum(axis=1)
    return _div(num, gp.sum(axis=1) * gn.sum(axis=1))


def bootstrap(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, pos_scores: np.ndarray | None = None,
              n_boot: int = N_BOOTSTRAP, seed: int = SEED) -> dict[str, list | None]:
    """95% percentile intervals of accuracy, macro F1, balanced accuracy (+ binary metrics)."""
    n = len(y_true)
    if n < 2:
        return {}
    rng = np.random.default_rng(seed)
    cell = y_true.astype(np.int64) * n_classes + y_pred.astype(np.int64)
    collected: dict[str, list[np.ndarray]] = {}
    chunk = max(1, min(n_boot, 2_000_000 // max(n, n_classes * n_classes)))  # bounds memory per chunk
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=b)
        cm = np.stack([np.bincount(cell, weights=c, minlength=n_classes * n_classes) for c in counts])
        stats = _from_confusion(cm.reshape(b, n_classes, n_classes))
        if pos_scores is not None:
            stats["roc_auc"] = _weighted_auc(pos_scores, y_true == 1, counts)
        for k, v in stats.items():
            collected.setdefault(k, []).append(v)
        done += b
    return {k: _interval(np.concatenate(v)) for k, v in collected.items()}


def score(y_true, probs, classes: list[str], paths: list[str] | None = None,
          n_boot: int = N_BOOTSTRAP, seed: int = SEED) -> dict:
    """Metrics of class probabilities `probs` (n, C) against integer labels `y_true`.

    Returns a JSON-able dict: n, classes, accuracy, balanced_accuracy, macro_f1, log_loss,
    ci95 {metric: [low, high] | null}, bootstrap {resamples, seed, level}, per_class [{name, precision, recall, f1, support}],
    confusion_matrix (rows = true class, columns = predicted), top_k {"k": accuracy}
    for k < classes, confident_errors [{path, true, predicted, probability}], and for
    two classes `binary` {positive_class, sensitivity, specificity, ppv, npv, roc_auc}.
    Undefined values are null.
    """
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(probs, dtype=np.float64)
    c = len(classes)
    if p.ndim != 2 or p.shape != (len(y), c):
        raise ValueError(f"probabilities of shape {p.shape} do not match {len(y)} labels and {c} classes")
    labels = list(range(c))
    out: dict = {"n": int(len(y)), "classes": list(classes)}
    if len(y) == 0:
        return out
    pred = p.argmax(axis=1)
    prec, rec, f1, sup = skm.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    out["accuracy"] = _num(skm.accuracy_score(y, pred))
    present = sorted(set(y.tolist()))
    out["balanced_accuracy"] = _num(np.mean([rec[i] for i in present]))  # = sklearn's, without its warning
    out["macro_f1"] = _num(skm.f1_score(y, pred, labels=labels, average="macro", zero_division=0))
    out["log_loss"] = _num(skm.log_loss(y, np.clip(p, 1e-15, 1), labels=labels))
    out["per_class"] = [{"name": classes[i], "precision": _num(prec[i]), "recall": _num(rec[i]),
                         "f1": _num(f1[i]), "support": int(sup[i])} for i in labels]
    out["confusion_matrix"] = skm.confusion_matrix(y, pred, labels=labels).tolist()
    out["top_k"] = {str(k): _num(skm.top_k_accuracy_score(y, p, k=k, labels=labels))
                    for k in TOP_K if k < c}
    wrong = np.flatnonzero(pred != y)
    wrong = wrong[np.argsort(-p[wrong, pred[wrong]], kind="stable")][:N_CONFIDENT_ERRORS]
    out["confident_errors"] = [{"path": paths[i] if paths is not None else None, "true": classes[y[i]],
                                "predicted": classes[pred[i]], "probability": float(p[i, pred[i]])}
                               for i in wrong]
    pos_scores = None
    if c == 2:
        cm = np.asarray(out["confusion_matrix"], dtype=np.int64)[None]
        binary = {k: _num(v[0]) for k, v in _from_confusion(cm).items()
                  if k in ("sensitivity", "specificity", "ppv", "npv")}
        both = len(present) == 2
        binary["roc_auc"] = _num(skm.roc_auc_score(y, p[:, 1])) if both else None
        out["binary"] = {"positive_class": classes[1], "negative_class": classes[0], **binary}
        pos_scores = p[:, 1] if both else None
    ci = {k: v for k, v in bootstrap(y, pred, c, pos_scores, n_boot=n_boot, seed=seed).items()
          if v is not None and v[1] > v[0]}  # a collapsed resampling interval says nothing
    out["ci95"] = {**ci, **_rate_intervals(np.asarray(out["confusion_matrix"]))}
    out["bootstrap"] = {"resamples": n_boot, "seed": seed, "level": 0.95,
                        "rates": "Wilson score interval (accuracy, sensitivity, specificity, PPV, NPV)"}
    return out
