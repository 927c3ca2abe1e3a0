"""The model card's and README's clinical parts: the decision rule, figures at the operating
threshold, calibration, and how to apply the rule to model.onnx by hand.

decision.json is written from metrics.json's clinical section (engine/evaluate/clinical.py)
and read by every predictor through engine/bundle/decision.py.
"""
from __future__ import annotations

from ..evaluate.clinical_text import ci_text
from .decision import DECISION_FORMAT, describe

FIGURES = (("sensitivity", "Sensitivity"), ("specificity", "Specificity"), ("ppv", "PPV"), ("npv", "NPV"),
           ("accuracy", "Accuracy"))


def decision_json(metrics: dict, classes: list[str]) -> dict:
    """The rule a bundle carries (argmax at temperature 1 when the run has no clinical section)."""
    rule = ((metrics or {}).get("clinical") or {}).get("decision") or {}
    keep = ("temperature", "positive_class", "threshold", "method", "target", "cost_ratio", "reason",
            "positive_reason", "temperature_fitted_on")
    out = {"format": DECISION_FORMAT, "version": 1, "classes": list(classes),
           **{k: rule.get(k) for k in keep}}
    out["temperature"] = float(out["temperature"] or 1.0)
    out["how"] = describe(out, list(classes))
    return out


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _num3(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _ci(v, ci, number=_pct) -> str:
    return ci_text(v, ci, number)


def markdown_clinical(metrics: dict, modality: str) -> list[str]:
    """Lines of the card's 'Decision threshold and calibration' section ([] without a clinical section)."""
    c = (metrics or {}).get("clinical")
    if not isinstance(c, dict) or not c.get("decision"):
        return []
    rule, test, val = c["decision"], c.get("test") or {}, c.get("val") or {}
    lines = ["", "## Decision threshold and calibration", ""]
    if rule.get("threshold") is not None:
        lines += [f"- Positive class: **{rule['positive_class']}**. {rule.get('positive_reason', '')}",
                  f"- Threshold: **{rule['threshold']:.4f}** on the positive class's calibrated probability, "
                  f"chosen on the validation split only: {rule.get('reason', '').split(': ', 1)[-1]}"]
    else:
        lines.append(f"- Decision: {rule.get('reason', 'the most probable class')}")
    t = rule.get("temperature") or 1.0
    lines.append(f"- Temperature: **{t:.3f}** (fitted on the validation split; probabilities are "
                 f"softmax(logits / {t:.3f}))." if t != 1.0 else
                 f"- Temperature: 1. {rule.get('temperature_note') or 'Probabilities are not rescaled.'}")
    if rule.get("refit_note"):
        lines.append(f"- {rule['refit_note']}")
    at = test.get("at_threshold") or {}
    if at:
        lines += ["", f"Test split at this threshold ({at['n']} examples; Wilson 95% intervals):", "",
                  "| Figure | Value |", "|---|---|"]
        lines += [f"| {title} | {_ci(at.get(k), (at.get('ci95') or {}).get(k))} |" for k, title in FIGURES]
        cnt = at.get("counts") or {}
        lines.append(f"| Counts | TP {cnt.get('tp')}, FP {cnt.get('fp')}, TN {cnt.get('tn')}, FN {cnt.get('fn')} |")
    curves = test.get("curves") or {}
    if curves:
        lines += [f"| ROC AUC | {_ci(curves['roc']['auc'], curves['roc']['ci95'], _num3)} |",
                  f"| Average precision | {_ci(curves['pr']['ap'], curves['pr']['ci95'], _num3)} |"]
    for r in test.get("one_vs_rest") or []:
        if r is (test.get("one_vs_rest") or [None])[0]:
            lines += ["", "Test split, each class against the rest:", "",
                      "| Class | Sensitivity | Specificity | PPV | NPV |", "|---|---|---|---|---|"]
        lines.append(f"| {r['class']} | " + " | ".join(_ci(r.get(k), (r.get('ci95') or {}).get(k))
                                                   for k in ("sensitivity", "specificity", "ppv", "npv")) + " |")
    cal = test.get("calibration") or val.get("calibration")
    if cal:
        which = "test" if test.get("calibration") else "validation"
        lines += ["", f"Calibration on the {which} split (expected calibration error, 10 bins; log-loss):", "",
                  "| | Before scaling | After scaling |", "|---|---|---|",
                  f"| ECE | {_ci(cal['ece_before'], cal.get('ece_before_ci95'), _num3)} | "
                  f"{_ci(cal['ece_after'], cal.get('ece_after_ci95'), _num3)} |",
                  f"| Log-loss | {_num3(cal['log_loss_before'])} | {_num3(cal['log_loss_after'])} |"]
    return lines


def readme_decision(rule: dict) -> list[str]:
    """README lines telling an ONNX user how to turn logits into this model's probabilities and decision."""
    t = float(rule.get("temperature") or 1.0)
    lines = ["", "## The decision rule (decision.json)", "",
             "`predict.py`, `transfer-studio predict` and the app apply the same two steps; with `model.onnx` "
             "by hand, apply them yourself (the ONNX graph returns raw logits):", "", "```python",
             "import json, numpy as np",
             'rule = json.load(open("decision.json"))',
             f'z = logits / rule["temperature"]            # temperature = {t:.6g}',
             "p = np.exp(z - z.max(axis=1, keepdims=True)); p /= p.sum(axis=1, keepdims=True)"]
    if rule.get("threshold") is not None:
        pos = rule["positive_class"]
        lines += ['classes = rule["classes"]; pos = classes.index(rule["positive_class"])',
                  f'decision = np.where(p[:, pos] >= rule["threshold"], pos, 1 - pos)   # {pos} at >= '
                  f'{rule["threshold"]:.4f}']
    else:
        lines.append("decision = p.argmax(axis=1)")
    lines += ["```", "", "The probabilities stay available beside the decision: report both."]
    return lines


def _diff(key: str, c: dict) -> str:
    if c.get("difference") is None:
        return "n/a"
    area = key in ("roc_auc", "pr_ap")
    d = f"{c['difference']:+.3f}" if area else f"{100 * c['difference']:+.1f} pts"
    ci = c.get("ci95")
    if ci:
        d += f" ({ci[0]:+.3f} to {ci[1]:+.3f})" if area else f" ({100 * ci[0]:+.1f} to {100 * ci[1]:+.1f})"
    return d + (" **intervals do not overlap**" if c.get("flagged") else "")


TITLES = {"sensitivity": "Sensitivity", "specificity": "Specificity", "ppv": "PPV", "npv": "NPV",
          "accuracy": "Accuracy", "roc_auc": "ROC AUC", "pr_ap": "Average precision"}


def markdown_audits(metrics: dict) -> list[str]:
    """Card sections for second sites and the subgroup audit ([] when the run has neither)."""
    lines: list[str] = []
    for site in (metrics or {}).get("external") or []:
        lines += ["", f"## Second site: {site['name']} ({site['n']} examples)", "",
                  "Scored under the same decision rule; the difference is the second site minus the internal "
                  "test split, with its 95% interval.", "",
                  "| Figure | Internal test | Second site | Difference |", "|---|---|---|---|"]
        for key, c in site["comparison"].items():
            fmt = _num3 if key in ("roc_auc", "pr_ap") else _pct
            lines.append(f"| {TITLES.get(key, key)} | {fmt(c['internal'])} | {fmt(c['external'])} | {_diff(key, c)} |")
    sub = (metrics or {}).get("subgroups")
    if sub:
        lines += ["", f"## Subgroups ({sub.get('split', 'test')} split)", "",
                  f"{sub['matched']} examples matched in the attribute file, {sub['unmatched']} not listed. "
                  "Groups with fewer than 30 examples (or 10 of either class) are marked too small to judge.", ""]
        for attr in sub["attributes"]:
            keys = [k for k in ("sensitivity", "specificity", "ppv", "npv", "accuracy")
                    if any(g.get(k) is not None for g in attr["groups"])]
            lines += [f"**{attr['name']}**", "", "| Group | n | " + " | ".join(TITLES[k] for k in keys) + " | Note |",
                      "|---|---|" + "---|" * len(keys) + "---|"]
            for g in attr["groups"]:
                lines.append(f"| {g['value']} | {g['n']} | "
                             + " | ".join(_ci(g.get(k), (g.get('ci95') or {}).get(k)) for k in keys)
                             + f" | {g.get('warning') or ''} |")
            for k, gap in attr["gaps"].items():
                lines.append(f"\nWorst-group gap in {TITLES[k].lower()}: {100 * gap['gap']:.1f} points "
                             f"({gap['worst']} vs {gap['best']}).")
            lines.append("")
    return lines
