"""Examples of errors for the report: the most confident false positives and false negatives at
the operating threshold (or the most confident mistakes), as embedded thumbnails or snippets."""
from __future__ import annotations

import base64
import io
from html import escape
from pathlib import Path

import numpy as np

from ..bundle.decision import calibrate

PER_KIND = 6
THUMB = 96


def short(path: str, roots: list[str]) -> str:
    """A path relative to its data folder, named by that folder's last part (no home folders)."""
    for root in roots:
        try:
            return str(Path(Path(root).name) / Path(path.split("#", 1)[0]).relative_to(root))
        except ValueError:
            continue
    return Path(path).name


def thumbnail(path: str, modality: str) -> str:
    """An <img> with the picture embedded, or a short text excerpt; '' when the file is gone."""
    file = path.split("#", 1)[0]
    try:
        if modality == "image":
            from ..data.images import load_image

            img = load_image(file)
            img.thumbnail((THUMB, THUMB))
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            return (f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode("ascii")}" '
                    f'width="{img.width}" height="{img.height}" alt="">')
        text = Path(file).read_text(encoding="utf-8", errors="replace")[:160]
        return f"<span class='snippet'>{escape(text)}…</span>"
    except Exception:  # moved or unreadable since evaluation: the row keeps its name
        return "<span class='muted'>(file not available)</span>"


def explanation(ctx: dict, path: str, decided: str) -> str:
    """What the model looked at when it decided `decided` (issue 23): the Grad-CAM overlay of that
    class (images) or the text with the words that spoke for it tinted; a muted note when it cannot
    be made (the file moved, a class this model lacks). Computed through the explanation cache."""
    try:
        from ..explain import Explainer
        from ..explain.words import highlight_html

        explainer = Explainer.open(ctx["path"])
        info = explainer.explain(path, explainer.classes.index(decided))
        if info["modality"] == "image":
            data = base64.b64encode(Path(info["overlay"]).read_bytes()).decode("ascii")
            return f'<img src="data:image/png;base64,{data}" width="{THUMB}" height="{THUMB}" alt="map">'
        return f"<span class='snippet'>{highlight_html(info['text'], info['words'], 160)}</span>"
    except Exception:  # an explanation is extra: the row stays without it
        return "<span class='muted'>(no map)</span>"


def binary_errors(test, classes: list[str], rule: dict) -> dict[str, list[tuple[str, str, float]]]:
    """{"false negatives": [(path, true class, p positive)], "false positives": [...]}, most confident first."""
    pos = classes.index(rule["positive_class"])
    p = calibrate(test.probs, rule.get("temperature") or 1.0)[:, pos]
    y = test.y == pos
    decided = p >= rule["threshold"]
    out = {}
    for title, mask, order in (("Missed positives (false negatives)", y & ~decided, np.argsort(p)),
                               ("False alarms (false positives)", ~y & decided, np.argsort(-p))):
        rows = [i for i in order if mask[i]][:PER_KIND]
        out[title] = [(test.paths[i], classes[test.y[i]], float(p[i])) for i in rows]
    return out


def error_rows(ctx: dict) -> tuple[str, dict[str, list[tuple[str, str, str, float]]]]:
    """(what the probability column means, {section title: [(path, true, decided, probability)]})."""
    rule = ((ctx["metrics"].get("clinical") or {}).get("decision")) or {}
    test = (ctx.get("predictions") or {}).get("test")
    classes = ctx["classes"]
    if test is not None and len(test.y) and rule.get("threshold") is not None:
        pos, neg = rule["positive_class"], [c for c in classes if c != rule["positive_class"]][0]
        found = binary_errors(test, classes, rule)
        return (f"probability of {pos}", {title: [(p, t, neg if "negatives" in title else pos, q) for p, t, q in rows]
                                         for title, rows in found.items()})
    errors = (ctx["metrics"].get("test") or {}).get("confident_errors") or []
    return ("probability of the predicted class",
            {"Most confident mistakes": [(e["path"], e["true"], e["predicted"], e["probability"])
                                         for e in errors[:PER_KIND * 2] if e.get("path")]})
