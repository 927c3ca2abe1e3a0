"""The decision a saved model makes: temperature-scaled probabilities, then a threshold.

One home for the rule every predictor applies: the engine's Predictor, the GUI's
Try-it page (through the engine), the bundle's standalone predict.py (which receives
this file's text verbatim) and anyone using model.onnx by hand (decision.json and the
bundle README describe the same two steps). Needs only the standard library and numpy.

    probabilities = softmax(log(softmax(logits)) / temperature)   (= softmax(logits / temperature))
    binary:      decision = positive class if probabilities[positive] >= threshold, else the other class
    multi-class: decision = the class with the highest probability
"""
from __future__ import annotations

import math

import numpy as np

DECISION_FILE = "decision.json"
DECISION_FORMAT = "transfer-studio-decision"
NO_RULE = {"temperature": 1.0, "positive_class": None, "threshold": None}


def calibrate(probs, temperature: float) -> np.ndarray:
    """Temperature scaling applied to probabilities (rows sum to 1): softmax(log p / T).

    log p differs from the logits by a per-row constant, so this equals softmax(logits / T)
    and works on the probabilities the app caches as well as on fresh ones.
    """
    p = np.asarray(probs, dtype=np.float64)
    t = float(temperature or 1.0)
    if t == 1.0:
        return p
    z = np.log(np.clip(p, 1e-300, None)) / t
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def check_rule(rule: dict | None, classes: list[str]) -> dict:
    """A rule dict with usable values (a missing or partial one means argmax, temperature 1)."""
    out = dict(NO_RULE)
    out.update({k: v for k, v in (rule or {}).items() if k in NO_RULE or k in ("method", "reason")})
    t = out.get("temperature")
    if not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0:
        raise ValueError(f"decision temperature {t!r} is not a positive number")
    pos, thr = out.get("positive_class"), out.get("threshold")
    if len(classes) != 2 or pos is None or thr is None:
        out["positive_class"], out["threshold"] = (pos if pos in classes else None), None
        return out
    if pos not in classes:
        raise ValueError(f"decision positive class {pos!r} is not one of {classes}")
    if not isinstance(thr, (int, float)) or not 0.0 <= thr <= 1.0:
        raise ValueError(f"decision threshold {thr!r} is not between 0 and 1")
    return out


def decide(calibrated, classes: list[str], rule: dict | None) -> list[str]:
    """The class each row of calibrated probabilities is decided as, under `rule`."""
    p = np.atleast_2d(np.asarray(calibrated, dtype=np.float64))
    r = check_rule(rule, classes)
    if r["threshold"] is None:
        return [classes[i] for i in p.argmax(axis=1)]
    pos = classes.index(r["positive_class"])
    neg = 1 - pos
    return [classes[pos] if row[pos] >= r["threshold"] else classes[neg] for row in p]


def describe(rule: dict | None, classes: list[str]) -> str:
    """One sentence for a person reading a prediction table or a README."""
    r = check_rule(rule, classes)
    temp = (f"probabilities are temperature-scaled (T = {r['temperature']:.3g})" if r["temperature"] != 1.0
            else "probabilities are the model's softmax")
    if r["threshold"] is None:
        return f"Decision: the most probable class; {temp}."
    return (f"Decision: {r['positive_class']} when its probability is at least {r['threshold']:.4f}, "
            f"otherwise {[c for c in classes if c != r['positive_class']][0]}; {temp}.")
