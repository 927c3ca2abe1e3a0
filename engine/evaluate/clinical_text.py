"""The clinical section as terminal text: the decision rule and why, figures at the threshold,
curves' areas and calibration before/after, for `transfer-studio evaluate` and `report`."""
from __future__ import annotations

from .operating import FIGURE_TITLES, FIGURES
from .report import pct


def ci_text(v, ci, number=pct) -> str:
    """'91.2% (95% CI 88.0–94.1%)', or the value alone without an interval, or 'n/a'."""
    if v is None:
        return "n/a"
    return number(v) + (f" (95% CI {number(ci[0]).rstrip('%')}\u2013{number(ci[1])})" if ci else "")


def num3(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def rule_lines(rule: dict) -> list[str]:
    out = []
    if rule.get("threshold") is not None:
        out.append(f"Positive class: {rule['positive_class']}. {rule.get('positive_reason', '')}")
        out.append(f"Threshold: {rule.get('reason', '')}")
    else:
        out.append(rule.get("reason") or "Decision: the most probable class.")
    t = rule.get("temperature") or 1.0
    out.append(f"Temperature: {t:.3f}, fitted on the validation split." if t != 1.0 else
               rule.get("temperature_note") or "Temperature: 1 (no scaling).")
    if rule.get("refit_note"):
        out.append(rule["refit_note"])
    return out


def format_clinical(c: dict) -> str:
    lines = ["Decision rule (chosen on the validation split)"] + ["  " + s for s in rule_lines(c.get("decision") or {})]
    for split, title in (("test", "Test"), ("val", "Validation")):
        s = c.get(split)
        if not s:
            continue
        lines.append(f"\n{title} at the threshold ({s['n']} examples, Wilson 95% intervals)")
        at = s.get("at_threshold")
        if at:
            lines += [f"  {FIGURE_TITLES[k]:<18} {ci_text(at.get(k), at['ci95'].get(k))}" for k in FIGURES]
            k = at["counts"]
            lines.append(f"  {'Counts':<18} TP {k['tp']}  FP {k['fp']}  TN {k['tn']}  FN {k['fn']}")
        for r in s.get("one_vs_rest") or []:
            lines.append(f"  {r['class']:<18} sensitivity {ci_text(r['sensitivity'], r['ci95']['sensitivity'])}, "
                         f"specificity {ci_text(r['specificity'], r['ci95']['specificity'])}")
        cur = s.get("curves")
        if cur:
            lines.append(f"  {'ROC AUC':<18} {ci_text(cur['roc']['auc'], cur['roc']['ci95'], num3)}")
            lines.append(f"  {'Average precision':<18} {ci_text(cur['pr']['ap'], cur['pr']['ci95'], num3)}")
        for o in s.get("curves_one_vs_rest") or []:
            lines.append(f"  ROC AUC {o['class']:<10} {ci_text(o['roc']['auc'], o['roc']['ci95'], num3)}")
        cal = s.get("calibration")
        if cal:
            lines.append(f"  {'ECE':<18} {num3(cal['ece_before'])} before, {ci_text(cal['ece_after'], cal['ece_after_ci95'], num3)} after scaling")
            lines.append(f"  {'Log-loss':<18} {num3(cal['log_loss_before'])} before, {num3(cal['log_loss_after'])} after")
    return "\n".join(lines)


def _value(key: str, v) -> str:
    return num3(v) if key in ("roc_auc", "pr_ap") else pct(v)


COMPARE_TITLES = {**FIGURE_TITLES, "roc_auc": "ROC AUC", "pr_ap": "Average precision"}


def format_site(site: dict) -> list[str]:
    lines = [f"Second site: {site['name']} ({site['n']} examples) against the internal test split"]
    for key, c in site["comparison"].items():
        ci = c.get("ci95")
        diff = "n/a" if c["difference"] is None else (
            f"{c['difference']:+.3f}" if key in ("roc_auc", "pr_ap") else f"{100 * c['difference']:+.1f} points")
        interval = "" if not ci else (f" (95% CI {ci[0]:+.3f} to {ci[1]:+.3f})" if key in ("roc_auc", "pr_ap")
                                      else f" (95% CI {100 * ci[0]:+.1f} to {100 * ci[1]:+.1f})")
        flag = "  <- intervals do not overlap" if c.get("flagged") else ""
        lines.append(f"  {COMPARE_TITLES.get(key, key):<18} {_value(key, c['internal']):>8} -> "
                     f"{_value(key, c['external']):>8}  {diff}{interval}{flag}")
    return lines


def format_subgroups(sub: dict) -> list[str]:
    lines = [f"Subgroups of the {sub.get('split', 'test')} split ({sub['matched']} examples matched in "
             f"{sub['source']}, {sub['unmatched']} not listed)"]
    for attr in sub["attributes"]:
        lines.append(f"  {attr['name']}")
        for g in attr["groups"]:
            keys = [k for k in ("sensitivity", "specificity", "accuracy") if k in g and g[k] is not None]
            figs = ", ".join(f"{k} {ci_text(g[k], g['ci95'].get(k))}" for k in keys)
            warn = f"  [{g['warning']}]" if g.get("warning") else ""
            lines.append(f"    {g['value']:<14} n={g['n']:<5} {figs}{warn}")
        for k, gap in attr["gaps"].items():
            lines.append(f"    worst-group gap in {k}: {100 * gap['gap']:.1f} points ({gap['worst']} vs {gap['best']})")
    return lines


def format_audits(result: dict) -> str:
    """Second-site and subgroup tables of an evaluate result ('' when it has neither)."""
    lines: list[str] = []
    sites = result.get("external")
    for site in ([sites] if isinstance(sites, dict) else sites or []):
        lines += format_site(site) + [""]
    if result.get("subgroups"):
        lines += format_subgroups(result["subgroups"])
    return "\n".join(lines).rstrip()
