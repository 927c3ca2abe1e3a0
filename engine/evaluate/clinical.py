"""The clinical section of metrics.json: the positive class, the operating threshold and
why, figures at that threshold with intervals, ROC/PR curves, and calibration before and
after temperature scaling.

Everything that is chosen (temperature, threshold) is chosen on the validation split;
the test split is only read at the chosen values, so changing test probabilities can
never move the threshold. The result's `decision` is the rule a bundle carries
(engine/bundle/decision.py applies it).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..bundle.decision import calibrate, decide
from .calibration import fit_temperature, log_loss, reliability
from .curves import binary_curves, one_vs_rest_curves
from .operating import at_threshold, choose_threshold, default_positive, one_vs_rest, wilson

CLINICAL_VERSION = 1


@dataclass(frozen=True)
class Options:
    """How to decide: the positive class (None: the default rule) and the threshold method."""
    positive: str | None = None
    method: str = "youden"
    target: float | None = None
    cost_ratio: float | None = None
    calibrate: bool = True
    threshold: float | None = None  # method "manual": the threshold a person set by hand

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "Options":
        d = d or {}
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass
class Split:
    """Labels (indices into classes), the model's raw probabilities and the file of each row."""
    y: np.ndarray
    probs: np.ndarray
    paths: list[str]

    @classmethod
    def of(cls, y, probs, paths=None) -> "Split":
        y = np.asarray(y, dtype=np.int64)
        return cls(y, np.asarray(probs, dtype=np.float64), list(paths) if paths is not None else [""] * len(y))


def positive_index(classes: list[str], options: Options, train_counts: list[int] | None) -> tuple[int, str]:
    """The positive class (named in options, else the default rule) and the sentence why."""
    if options.positive is not None:
        if options.positive not in classes:
            from ..errors import DataError

            raise DataError(f"There is no class named {options.positive!r}; the classes are {', '.join(classes)}.")
        return classes.index(options.positive), f"{options.positive} is positive because you chose it."
    return default_positive(classes, train_counts)


def _calibration_block(split: Split | None, temperature: float, positive: int | None) -> dict | None:
    if split is None or not len(split.y):
        return None
    after = calibrate(split.probs, temperature)
    before_rel, after_rel = reliability(split.y, split.probs, positive), reliability(split.y, after, positive)
    return {"ece_before": before_rel["ece"], "ece_before_ci95": before_rel["ci95"],
            "ece_after": after_rel["ece"], "ece_after_ci95": after_rel["ci95"],
            "log_loss_before": log_loss(split.y, split.probs), "log_loss_after": log_loss(split.y, after),
            "bins_before": before_rel["bins"], "bins_after": after_rel["bins"], "kind": after_rel["kind"]}


def _p(x) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def decide_rule(classes: list[str], val: Split | None, options: Options,
                train_counts: list[int] | None = None) -> dict:
    """The decision rule chosen on validation only: {temperature, positive_class, threshold, ...}."""
    temperature = fit_temperature(val.y, val.probs) if (options.calibrate and val is not None) else 1.0
    rule: dict = {"temperature": temperature, "temperature_fitted_on": "val" if temperature != 1.0 else None,
                  "options": options.to_dict()}
    if options.calibrate and val is not None and temperature == 1.0:
        rule["temperature_note"] = ("No temperature was fitted: the validation split is perfectly separated (or "
                                    "too small to say how sure the model should be), so probabilities are not "
                                    "rescaled.")
    if len(classes) != 2:
        return {**rule, "positive_class": None, "threshold": None, "method": "argmax",
                "reason": "The most probable class is the decision (more than two classes)."}
    pos, why_pos = positive_index(classes, options, train_counts)
    rule.update(positive_class=classes[pos], positive_index=pos, positive_reason=why_pos)
    if val is None or not len(val.y):
        return {**rule, "threshold": 0.5, "method": "default",
                "reason": "0.5, because there were no validation examples to choose a threshold on."}
    if options.method == "manual" and options.threshold is not None:
        f = at_threshold(val.y == pos, calibrate(val.probs, temperature)[:, pos], options.threshold)
        chosen = {"threshold": float(options.threshold), "method": "manual", "target": None, "cost_ratio": None,
                  "achieved": {"sensitivity": f["sensitivity"], "specificity": f["specificity"]},
                  "reason": f"{options.threshold:.4f}: set by hand (validation sensitivity "
                            f"{_p(f['sensitivity'])}, specificity {_p(f['specificity'])})."}
    else:
        chosen = choose_threshold(val.y == pos, calibrate(val.probs, temperature)[:, pos], options.method,
                                  options.target, options.cost_ratio)
    return {**rule, "threshold": chosen["threshold"], "method": chosen["method"], "target": chosen["target"],
            "cost_ratio": chosen["cost_ratio"], "reason": chosen["reason"], "achieved_on_val": chosen["achieved"]}


def overall_accuracy(y, decided) -> dict:
    """Accuracy of the decisions with its Wilson interval, in figures()' shape (multi-class)."""
    k, n = int((np.asarray(y) == np.asarray(decided)).sum()), int(len(y))
    return {"n": n, "accuracy": k / n if n else None, "ci95": {"accuracy": wilson(k, n)},
            "fractions": {"accuracy": [k, n]}}


def split_figures(classes: list[str], split: Split | None, rule: dict) -> dict | None:
    """What one split looks like under the rule: figures at the threshold, curves, calibration."""
    if split is None or not len(split.y):
        return None
    cal = calibrate(split.probs, rule["temperature"])
    pos = classes.index(rule["positive_class"]) if rule.get("threshold") is not None else None
    out: dict = {"n": int(len(split.y)), "calibration": _calibration_block(split, rule["temperature"], pos)}
    if pos is not None:
        out["at_threshold"] = at_threshold(split.y == pos, cal[:, pos], rule["threshold"])
        out["curves"] = binary_curves(split.y == pos, cal[:, pos])
    else:
        decided = np.asarray([classes.index(c) for c in decide(cal, classes, rule)])
        out["overall"] = overall_accuracy(split.y, decided)
        out["one_vs_rest"] = [{"class": c, **f} for c, f in zip(classes, one_vs_rest(split.y, decided, len(classes)))]
        out["curves_one_vs_rest"] = one_vs_rest_curves(split.y, cal, classes)
    return out


REFIT_NOTE = ("The saved model was trained again on train + validation (a refit), so its validation figures, "
              "temperature and threshold come from the model selected before the refit: the refit model may be "
              "surer, and the test figures are the check.")


def note_refit(clinical: dict, metrics: dict) -> None:
    """Say so in the rule when validation was scored by another model than the saved one."""
    if metrics.get("refit"):
        clinical["decision"]["refit_note"] = REFIT_NOTE


SWAPS = (("sensitivity", "specificity"), ("ppv", "npv"))


def relabel_binary(scores: dict | None, positive: str | None) -> None:
    """Make a score()'s most-probable-class binary figures speak of the chosen positive class.

    score() calls the second class positive; when the rule's positive class is the first one,
    sensitivity and specificity (and PPV and NPV) trade places, intervals included. ROC AUC
    of the other class's probability is the same number for two classes.
    """
    b = (scores or {}).get("binary")
    if not b or positive is None or b.get("positive_class") == positive:
        return
    b["positive_class"], b["negative_class"] = b.get("negative_class"), b.get("positive_class")
    ci = scores.get("ci95") or {}
    for x, y in SWAPS:
        b[x], b[y] = b.get(y), b.get(x)
        if x in ci or y in ci:
            ci[x], ci[y] = ci.get(y), ci.get(x)


def clinical_section(classes: list[str], val: Split | None, test: Split | None, options: Options | None = None,
                     train_counts: list[int] | None = None) -> dict:
    """{version, decision, val, test}: the rule from validation, then each split read under it."""
    options = options or Options()
    rule = decide_rule(classes, val, options, train_counts)
    return {"version": CLINICAL_VERSION, "decision": rule,
            "val": split_figures(classes, val, rule), "test": split_figures(classes, test, rule)}
