"""Metrics as text a person reads: terminal tables for the CLI, Markdown for the model card."""
from __future__ import annotations

SUMMARY = (("accuracy", "Accuracy"), ("balanced_accuracy", "Balanced accuracy"), ("macro_f1", "Macro F1"))
BINARY = (("sensitivity", "Sensitivity (recall of {pos})"), ("specificity", "Specificity"),
          ("ppv", "PPV (precision of {pos})"), ("npv", "NPV"), ("roc_auc", "ROC AUC"))


def pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def prob(x: float) -> str:
    """A probability for a person: never rounds a near-certainty up to a flat 100%."""
    return ">99.9%" if x > 0.999 else f"{100 * x:.1f}%"


def with_ci(s: dict, key: str, number=pct) -> str:
    """'91.2% (95% CI 88.0-94.1%)' or just the value when no interval exists."""
    value = s.get(key) if key in s else (s.get("binary") or {}).get(key)
    ci = (s.get("ci95") or {}).get(key)
    if value is None or not ci:
        return number(value)
    return f"{number(value)} (95% CI {number(ci[0]).rstrip('%')}\u2013{number(ci[1])})"


def auc(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def headline_rows(s: dict) -> list[tuple[str, str]]:
    """(label, value with interval) rows: summary metrics, top-k, binary metrics."""
    rows = [(label, with_ci(s, key)) for key, label in SUMMARY]
    rows += [(f"Top-{k} accuracy", pct(v)) for k, v in (s.get("top_k") or {}).items()]
    b = s.get("binary")
    if b:
        for key, label in BINARY:
            rows.append((label.format(pos=b["positive_class"]), with_ci(s, key, auc if key == "roc_auc" else pct)))
    return rows


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*header), fmt.format(*["-" * w for w in widths])] + [fmt.format(*r) for r in rows])


def format_score(s: dict | None, title: str) -> str:
    """A terminal report of one score() result."""
    if not s or not s.get("n"):
        return f"{title}: no examples."
    lines = [f"{title}: {s['n']} examples"]
    lines += [f"  {label:<34} {value}" for label, value in headline_rows(s)]
    lines += ["", _table(["class", "precision", "recall", "F1", "support"],
                         [[c["name"], pct(c["precision"]), pct(c["recall"]), pct(c["f1"]), str(c["support"])]
                          for c in s["per_class"]])]
    classes = s["classes"]
    lines += ["", "Confusion matrix (rows: true class, columns: predicted)",
              _table(["true \\ predicted"] + classes,
                     [[classes[i]] + [str(v) for v in row] for i, row in enumerate(s["confusion_matrix"])])]
    if s.get("confident_errors"):
        lines += ["", "Most confident mistakes"]
        lines += [f"  {e['probability']:.2f}  {e['true']} -> {e['predicted']}  {e['path']}" for e in s["confident_errors"]]
    return "\n".join(lines)


def markdown_confusion(s: dict | None) -> str:
    """The confusion matrix as a Markdown table (rows: true class, columns: predicted)."""
    if not s or not s.get("n"):
        return ""
    classes = s["classes"]
    out = ["| True \\ predicted | " + " | ".join(classes) + " |", "|---" * (len(classes) + 1) + "|"]
    out += [f"| {classes[i]} | " + " | ".join(str(v) for v in row) + " |" for i, row in enumerate(s["confusion_matrix"])]
    return "\n".join(out)


def markdown_score(s: dict | None) -> str:
    """A Markdown table of the headline metrics and per-class results of one split."""
    if not s or not s.get("n"):
        return "_No examples in this split._"
    out = ["| Metric | Value |", "|---|---|"]
    out += [f"| {label} | {value} |" for label, value in headline_rows(s)]
    out += ["", "| Class | Precision | Recall | F1 | Examples |", "|---|---|---|---|---|"]
    out += [f"| {c['name']} | {pct(c['precision'])} | {pct(c['recall'])} | {pct(c['f1'])} | {c['support']} |"
            for c in s["per_class"]]
    return "\n".join(out)
