"""The recipe in words, rendered from RULES: CLI help, README's section, a run's settings."""
from __future__ import annotations

from .rules import RULES, RULES_BY_SETTING

README_BEGIN = "<!-- recipe rules: rendered by `transfer-studio recipe --rules`; do not edit by hand -->"
README_END = "<!-- end of recipe rules -->"


def auto_help(setting: str, what: str = "") -> str:
    """`--flag` help: what the setting is, then what Auto does (the rule's own line)."""
    rule = RULES_BY_SETTING[setting]
    return f"{what + '; ' if what else ''}default: auto, {rule.says}"


def rules_markdown() -> str:
    """README's table of the rules: setting, what Auto does, the evidence."""
    lines = [README_BEGIN, "", "| setting | what Auto does | evidence |", "|---|---|---|"]
    for r in RULES:
        only = f" ({r.modality}s only)" if r.modality else ""
        lines.append(f"| `{r.setting}`{only} | {r.says} | {r.evidence} |")
    return "\n".join(lines + ["", README_END])


def _value(v) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def estimate_text(estimate: dict | None, device: str = "") -> str:
    """'At most about 6 min on this CPU (early stopping often ends sooner)'; "" without an estimate."""
    if not estimate or estimate.get("seconds") is None:
        return ""
    where = f" on this {device.split(':')[0].upper()}" if device else ""
    return f"At most about {duration(float(estimate['seconds']))}{where} (early stopping often ends sooner)."


def settings_text(settings: list[dict], facts: dict | None = None, estimate: dict | None = None) -> str:
    """One line per setting for the terminal: name, value, and (auto) why or (yours); then the time estimate."""
    out = []
    if facts:
        out.append(f"{facts.get('backbone_name', facts.get('backbone'))} on {facts.get('device')}, "
                   f"{facts.get('modality')} data: {facts.get('n_train')} to train on, {facts.get('n_val')} for "
                   f"validation, {facts.get('n_classes')} classes")
    width = max((len(s["name"]) for s in settings), default=0)
    for s in settings:
        why = s["reason"] if s["auto"] else "your choice"
        out.append(f"  {s['name']:<{width}}  {_value(s['value']):>10}  {'auto: ' if s['auto'] else ''}{why}")
    time_text = estimate_text(estimate, (facts or {}).get("device", ""))
    if time_text:
        out.append(time_text)
    return "\n".join(out)
