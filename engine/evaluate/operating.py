"""The operating point of a binary decision: which class is positive, where the threshold
sits, and the figures a clinician reads at that threshold, each with a 95% interval.

Needs only numpy, so the GUI imports it and moving the threshold recomputes every figure
from cached probabilities without asking the engine to run the model again. The threshold
is chosen from validation examples only (`choose_threshold` never sees test data); the
test figures are then read at that threshold (`at_threshold`). Proportions carry Wilson
score intervals, which keep close to 95% coverage at the small counts clinical test sets
have; differences between two independent sets (a second site) carry Newcombe's interval.
"""
from __future__ import annotations

import math
import re

import numpy as np

Z95 = 1.959963984540054
METHODS = ("youden", "sensitivity", "specificity", "cost")
METHOD_TITLES = {"youden": "Youden's J (sensitivity + specificity - 1, largest)",
                 "sensitivity": "target sensitivity", "specificity": "target specificity",
                 "cost": "cost of a missed positive vs a false alarm", "manual": "set by hand"}
DEFAULT_TARGET = 0.9
DEFAULT_COST_RATIO = 1.0
# a class named like these is the "nothing found" class, so the other one is positive
NEGATIVE_WORDS = ("normal", "negative", "benign", "healthy", "control", "controls", "none", "absent",
                  "nofinding", "no_finding", "clear", "clean")
FIGURES = ("sensitivity", "specificity", "ppv", "npv", "accuracy")
FIGURE_TITLES = {"sensitivity": "Sensitivity", "specificity": "Specificity", "ppv": "PPV (precision)",
                 "npv": "NPV", "accuracy": "Accuracy"}


def _negative_like(name: str) -> bool:
    low = name.lower()
    words = [w for w in re.split(r"[^a-z0-9]+", low) if w]
    return bool(words) and (any(w in NEGATIVE_WORDS for w in words) or low.replace(" ", "_") in NEGATIVE_WORDS
                            or words[0] in ("no", "non", "not"))


def default_positive(classes: list[str], counts: list[int] | None = None) -> tuple[int, str]:
    """(index of the positive class, the sentence that explains why) for two classes.

    A class named like normal/negative/benign/healthy/control is the negative one; else the
    class with fewer examples is positive (the condition is usually the rarer one); on a tie,
    the second class.
    """
    if len(classes) != 2:
        raise ValueError("a positive class is chosen for two classes only")
    neg = [i for i, c in enumerate(classes) if _negative_like(c)]
    if len(neg) == 1:
        pos = 1 - neg[0]
        return pos, (f"{classes[pos]} is positive because {classes[neg[0]]} is named like the negative "
                     "class (normal, negative, benign, healthy, control).")
    if counts is not None and len(counts) == 2 and counts[0] != counts[1]:
        pos = int(np.argmin(counts))
        return pos, (f"{classes[pos]} is positive because it is the smaller class ({counts[pos]} vs "
                     f"{counts[1 - pos]} examples); neither name says which is the negative one.")
    return 1, (f"{classes[1]} is positive: the classes are equally large and neither name says which is "
               "the negative one, so pick the positive class yourself.")


def _rates(y: np.ndarray, s: np.ndarray):
    """Candidate thresholds (each distinct score, high to low, plus one above all) and, for the
    decision score >= threshold at each: true positives and false positives."""
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]  # last index of each distinct score
    tp = np.r_[0, np.cumsum(y)[last]]
    fp = np.r_[0, np.cumsum(1 - y)[last]]
    thresholds = np.r_[np.inf, s[last]]
    return thresholds, tp.astype(np.float64), fp.astype(np.float64)


def choose_threshold(y_pos, score, method: str = "youden", target: float | None = None,
                     cost_ratio: float | None = None) -> dict:
    """The threshold on `score` (the positive class's probability) chosen on these examples.

    Meant for validation examples. The threshold sits halfway between the validation score it
    keeps and the next lower one, so it gives the same validation figures with a margin. Returns {threshold, method, target, cost_ratio, reason,
    achieved: {sensitivity, specificity}}. `sensitivity`/`specificity`: the threshold that
    keeps the named figure at or above `target` while the other is as high as it can be;
    `youden`: largest sensitivity + specificity - 1; `cost`: fewest expected costs when a
    missed positive costs `cost_ratio` false alarms.
    """
    y = np.asarray(y_pos, dtype=np.int64)
    s = np.asarray(score, dtype=np.float64)
    if method not in METHODS:
        raise ValueError(f"threshold method {method!r}; choose from {', '.join(METHODS)}")
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if n_pos == 0 or n_neg == 0:
        return {"threshold": 0.5, "method": "default", "target": None, "cost_ratio": None, "achieved": None,
                "reason": "0.5, because the validation examples do not hold both classes, so no threshold "
                          "could be chosen on them."}
    thr, tp, fp = _rates(y, s)
    sens, spec = tp / n_pos, 1 - fp / n_neg
    target = DEFAULT_TARGET if target is None else float(target)
    cost_ratio = DEFAULT_COST_RATIO if cost_ratio is None else float(cost_ratio)
    finite = np.isfinite(thr)
    if method == "sensitivity":
        ok = np.flatnonzero((sens >= target - 1e-12) & finite)
        i = ok[np.argmax(spec[ok])] if ok.size else int(np.flatnonzero(finite)[-1])
        why = f"the highest specificity that keeps validation sensitivity at or above {target:.0%}"
    elif method == "specificity":
        ok = np.flatnonzero((spec >= target - 1e-12) & finite)
        i = ok[np.argmax(sens[ok])] if ok.size else int(np.flatnonzero(finite)[0])
        why = f"the highest sensitivity that keeps validation specificity at or above {target:.0%}"
    elif method == "youden":
        j = np.where(finite, sens + spec - 1, -np.inf)
        i = int(np.argmax(j))
        why = "the largest Youden's J (sensitivity + specificity - 1) on the validation examples"
    else:
        cost = np.where(finite, cost_ratio * (n_pos - tp) + fp, np.inf)
        i = int(np.argmin(cost))
        why = (f"the fewest expected costs on the validation examples when a missed positive costs "
               f"{cost_ratio:g} false alarm{'s' if cost_ratio != 1 else ''}")
    below = thr[i + 1] if i + 1 < len(thr) else 0.0  # the next lower validation score (0 below the lowest)
    # halfway to the next lower score: the same validation figures, and a new example scoring a hair
    # below the lowest validation positive kept is not missed for sitting exactly on the line
    t = float((thr[i] + below) / 2)
    return {"threshold": t, "method": method,
            "target": target if method in ("sensitivity", "specificity") else None,
            "cost_ratio": cost_ratio if method == "cost" else None,
            "achieved": {"sensitivity": float(sens[i]), "specificity": float(spec[i])},
            "reason": f"{t:.4f}: {why} (validation sensitivity {sens[i]:.1%}, specificity {spec[i]:.1%})."}


def wilson(k: float, n: float, z: float = Z95) -> list[float] | None:
    """Wilson score interval of the proportion k / n; None when n is 0."""
    if n <= 0:
        return None
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return [max(0.0, centre - half), min(1.0, centre + half)]


def newcombe(k1: float, n1: float, k2: float, n2: float) -> list[float] | None:
    """Newcombe's hybrid score interval of p2 - p1 for two independent proportions."""
    a, b = wilson(k1, n1), wilson(k2, n2)
    if a is None or b is None:
        return None
    p1, p2 = k1 / n1, k2 / n2
    d = p2 - p1
    return [d - math.sqrt((p2 - b[0]) ** 2 + (a[1] - p1) ** 2), d + math.sqrt((b[1] - p2) ** 2 + (p1 - a[0]) ** 2)]


def counts_at(y_pos, score, threshold: float) -> dict[str, int]:
    """tp, fp, tn, fn of the decision score >= threshold."""
    y = np.asarray(y_pos, dtype=bool)
    d = np.asarray(score, dtype=np.float64) >= threshold
    return {"tp": int((d & y).sum()), "fp": int((d & ~y).sum()), "tn": int((~d & ~y).sum()), "fn": int((~d & y).sum())}


def figures(c: dict[str, int]) -> dict:
    """Sensitivity, specificity, PPV, NPV, accuracy with Wilson intervals, from tp/fp/tn/fn."""
    tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]
    parts = {"sensitivity": (tp, tp + fn), "specificity": (tn, tn + fp), "ppv": (tp, tp + fp),
             "npv": (tn, tn + fn), "accuracy": (tp + tn, tp + fp + tn + fn)}
    out: dict = {"counts": dict(c), "n": tp + fp + tn + fn, "ci95": {}, "fractions": {}}
    for key, (k, n) in parts.items():
        out[key] = k / n if n else None
        out["ci95"][key] = wilson(k, n)
        out["fractions"][key] = [int(k), int(n)]
    return out


def at_threshold(y_pos, score, threshold: float) -> dict:
    """figures() of the decision score >= threshold, with the threshold itself."""
    return {"threshold": float(threshold), **figures(counts_at(y_pos, score, threshold))}


def one_vs_rest(y, decided, n_classes: int) -> list[dict]:
    """Per class, figures() of 'decided as this class' against 'is this class' (multi-class)."""
    y, d = np.asarray(y), np.asarray(decided)
    out = []
    for k in range(n_classes):
        t, p = y == k, d == k
        out.append(figures({"tp": int((t & p).sum()), "fp": int((~t & p).sum()), "tn": int((~t & ~p).sum()),
                            "fn": int((t & ~p).sum())}))
    return out


def compare(internal: dict, external: dict) -> dict:
    """For each figure: external - internal with Newcombe's interval, flagged when the two
    sets' own intervals do not overlap (a drop too large to be chance at these counts)."""
    out = {}
    for key in FIGURES:
        fi, fe = internal.get("fractions", {}).get(key), external.get("fractions", {}).get(key)
        ci_i, ci_e = internal.get("ci95", {}).get(key), external.get("ci95", {}).get(key)
        if not fi or not fe or not fi[1] or not fe[1]:
            out[key] = {"internal": internal.get(key), "external": external.get(key), "difference": None,
                        "ci95": None, "flagged": False}
            continue
        separate = bool(ci_i and ci_e and (ci_e[1] < ci_i[0] or ci_e[0] > ci_i[1]))
        out[key] = {"internal": internal[key], "external": external[key],
                    "difference": external[key] - internal[key], "ci95": newcombe(fi[0], fi[1], fe[0], fe[1]),
                    "flagged": separate}
    return out
