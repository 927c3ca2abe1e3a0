"""The evaluation report: one self-contained, printable HTML file (charts and thumbnails embedded).

Written for the people who decide whether the model may be used (an ethics board, a
hospital's AI committee): what data it learned from and how it was split, the decision
rule and why, figures with 95% intervals, curves, calibration, the confusion matrix, a
second site, subgroups, examples of errors, and its limits. Plain HTML 4 tables and
<img> data URIs, so Qt's QTextDocument prints it to PDF as well as a browser shows it.
"""
from __future__ import annotations

from html import escape

from .. import __version__
from ..evaluate.clinical_text import COMPARE_TITLES, ci_text, num3
from ..evaluate.operating import FIGURE_TITLES, FIGURES
from ..evaluate.report import headline_rows, pct
from .examples import error_rows, explanation, short, thumbnail
from .svg import curve_chart, data_uri, reliability_chart

CSS = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; font-size: 10pt; color: #222; max-width: 900px; margin: auto; }
h1 { font-size: 17pt; margin-bottom: 2px; } h2 { font-size: 13pt; border-bottom: 1px solid #bbb; margin-top: 18px; }
h3 { font-size: 11pt; margin-bottom: 4px; }
table { border-collapse: collapse; margin: 4px 0 8px 0; }
td, th { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #eef2f7; } td.num { text-align: right; }
.muted { color: #777; } .warn { background: #fff4e5; border: 1px solid #f0b46a; padding: 6px 10px; }
.flag { color: #b71c1c; font-weight: bold; } .snippet { font-size: 8pt; color: #444; }
@media print { h2 { page-break-after: avoid; } table, img { page-break-inside: avoid; } }
"""


CHART_W, CHART_H = 222, 185  # points: two side by side fit an A4 page; the SVG scales to it


def _charts(*svgs: str) -> str:
    """Charts side by side in a borderless table row (Qt's printing lays out tables, not floats)."""
    cells = "".join(f"<td style='border: none; padding: 0 6px 0 0'>{_img(s)}</td>" for s in svgs)
    return f"<table style='border: none'><tr>{cells}</tr></table>"


def _table(header: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    out = ["<table>", "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td class='num'>{c}</td>" if i >= numeric_from else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>")
    return "\n".join(out + ["</table>"])


def _img(svg: str) -> str:
    return f'<img src="{data_uri(svg)}" width="{CHART_W}" height="{CHART_H}" alt="">'


def _data(ctx: dict) -> str:
    counts = ctx["counts"]
    roots = ", ".join(escape(r.rstrip("/").rsplit("/", 1)[-1]) for r in ctx["roots"]) or "unknown"
    rows = [[escape(c), str(v["train"]), str(v["val"]), str(v["test"]), str(sum(v.values()))]
            for c, v in counts.items()]
    if counts:
        tot = {k: sum(v[k] for v in counts.values()) for k in ("train", "val", "test")}
        rows.append(["<b>all</b>", str(tot["train"]), str(tot["val"]), str(tot["test"]), str(sum(tot.values()))])
    rep = ctx["data_report"]
    notes = []
    groups = rep.get("groups") or (rep.get("split") or {}).get("groups") if isinstance(rep, dict) else None
    if groups:
        notes.append(f"Examples were split by group ({escape(str(groups if isinstance(groups, str) else len(groups)))}"
                     "), so no group appears in more than one split.")
    dup = rep.get("duplicates") or {}
    if dup.get("across_splits"):
        notes.append(f"{len(dup['across_splits'])} group(s) of identical files appear in more than one split: "
                     "held-out figures may be optimistic.")
    for f in rep.get("findings") or []:
        if isinstance(f, dict) and f.get("severity") in ("warning", "error"):
            notes.append(escape(str(f.get("message", ""))))
    return ("<h2>Data and split</h2>"
            f"<p>Read from {roots}. The validation split chose the checkpoint, the temperature and the threshold; "
            "the test split was used for nothing but the figures below.</p>"
            + _table(["Class", "Train", "Validation", "Test", "Total"], rows)
            + "".join(f"<p class='muted'>{n}</p>" for n in notes))


def _rule(rule: dict) -> str:
    if not rule:
        return "<h2>Decision rule</h2><p>This run was evaluated before decision rules existed: argmax.</p>"
    items = []
    if rule.get("threshold") is not None:
        items.append(f"<b>Positive class: {escape(rule['positive_class'])}.</b> {escape(rule.get('positive_reason', ''))}")
        reason = rule.get("reason", "")
        items.append(f"<b>Threshold {rule['threshold']:.4f}</b>, chosen by {escape(reason.split(': ', 1)[-1])}"
                     if ": " in reason else f"<b>Threshold</b> {escape(reason)}")
    else:
        items.append(escape(rule.get("reason", "")))
    t = rule.get("temperature") or 1.0
    items.append(f"<b>Temperature {t:.3f}</b>, fitted on the validation split: probabilities are "
                 f"softmax(logits / {t:.3f})." if t != 1.0 else
                 escape(rule.get("temperature_note") or "Temperature 1: probabilities are not rescaled."))
    if rule.get("refit_note"):
        items.append(escape(rule["refit_note"]))
    return "<h2>Decision rule</h2><ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _figures(c: dict, metrics: dict) -> str:
    out = ["<h2>Figures with 95% intervals</h2>"]
    for split, title in (("test", "Test split"), ("val", "Validation split (chose the rule: optimistic)")):
        s = c.get(split) or {}
        at = s.get("at_threshold")
        rows = []
        if at:
            rows += [[FIGURE_TITLES[k], ci_text(at.get(k), at["ci95"].get(k))] for k in FIGURES]
            cur = s.get("curves") or {}
            if cur:
                rows += [["ROC AUC", ci_text(cur["roc"]["auc"], cur["roc"]["ci95"], num3)],
                         ["Average precision", ci_text(cur["pr"]["ap"], cur["pr"]["ci95"], num3)]]
        elif s.get("one_vs_rest"):
            rows += [[escape(r["class"]) + " vs rest", f"sensitivity {ci_text(r['sensitivity'], r['ci95']['sensitivity'])}"
                      f", specificity {ci_text(r['specificity'], r['ci95']['specificity'])}"] for r in s["one_vs_rest"]]
        if rows:
            out.append(f"<h3>{title}, {s.get('n', 0)} examples</h3>" + _table(["Figure", "Value"], rows))
    test = metrics.get("test")
    if test and test.get("n"):
        out.append("<h3>Most-probable-class figures (bootstrap intervals)</h3>"
                   + _table(["Figure", "Value"], [[escape(a), escape(b)] for a, b in headline_rows(test)
                                                  if not a.startswith(("Sensitivity", "Specificity", "PPV", "NPV", "ROC"))]))
    return "\n".join(out)


def _curves(c: dict) -> str:
    test = c.get("test") or {}
    cur, at = test.get("curves"), test.get("at_threshold")
    if cur:
        point = (1 - at["specificity"], at["sensitivity"]) if at and at["specificity"] is not None else None
        pr_point = (at["sensitivity"], at["ppv"]) if at and at["ppv"] is not None else None
        roc = curve_chart(f"ROC, test (AUC {cur['roc']['auc']:.3f})", "1 - specificity", "sensitivity",
                          [("test", cur["roc"]["fpr"], cur["roc"]["tpr"])]
                          + ([("validation", c["val"]["curves"]["roc"]["fpr"], c["val"]["curves"]["roc"]["tpr"])]
                             if (c.get("val") or {}).get("curves") else []), point, diagonal=True)
        pr = curve_chart(f"Precision-recall, test (AP {cur['pr']['ap']:.3f})", "recall (sensitivity)",
                         "precision (PPV)", [("test", cur["pr"]["recall"], cur["pr"]["precision"])], pr_point,
                         baseline=cur["pr"]["prevalence"])
        return "<h2>Curves</h2><p>The marked point is the chosen threshold.</p>" + _charts(roc, pr)
    ovr = test.get("curves_one_vs_rest") or []
    if ovr:
        roc = curve_chart("ROC, each class against the rest (test)", "1 - specificity", "sensitivity",
                          [(f"{o['class']} ({o['roc']['auc']:.2f})", o["roc"]["fpr"], o["roc"]["tpr"]) for o in ovr],
                          diagonal=True)
        return "<h2>Curves</h2>" + _charts(roc)
    return ""


def _calibration(c: dict) -> str:
    split = "test" if (c.get("test") or {}).get("calibration") else "val"
    cal = (c.get(split) or {}).get("calibration")
    if not cal:
        return ""
    chart = reliability_chart(f"Reliability ({'test' if split == 'test' else 'validation'})",
                              cal["bins_before"], cal["bins_after"])
    what = ("the positive class's probability against how often the example was positive" if cal["kind"] == "positive"
            else "the top class's probability against how often it was right")
    rows = [["Expected calibration error", ci_text(cal["ece_before"], cal["ece_before_ci95"], num3),
             ci_text(cal["ece_after"], cal["ece_after_ci95"], num3)],
            ["Log-loss", num3(cal["log_loss_before"]), num3(cal["log_loss_after"])]]
    return ("<h2>Calibration</h2>" + f"<p>Ten equal-width bins: {what}; dot size shows how many examples.</p>"
            + _charts(chart) + _table(["", "Before scaling", "After scaling"], rows))


def _confusion(ctx: dict, c: dict) -> str:
    at = (c.get("test") or {}).get("at_threshold")
    rule = c.get("decision") or {}
    if at:
        pos = escape(rule["positive_class"])
        neg = escape([x for x in ctx["classes"] if x != rule["positive_class"]][0])
        k = at["counts"]
        return ("<h2>Confusion matrix (test, at the threshold)</h2>"
                + _table(["true \\ decided", pos, neg], [[pos, f"{k['tp']} (TP)", f"{k['fn']} (FN)"],
                                                         [neg, f"{k['fp']} (FP)", f"{k['tn']} (TN)"]]))
    test = ctx["metrics"].get("test") or {}
    cm = test.get("confusion_matrix")
    if not cm:
        return ""
    classes = test.get("classes") or ctx["classes"]
    return ("<h2>Confusion matrix (test)</h2>"
            + _table(["true \\ predicted"] + list(classes),
                     [[escape(classes[i])] + [str(v) for v in row] for i, row in enumerate(cm)]))


def _external(metrics: dict) -> str:
    out = []
    for site in metrics.get("external") or []:
        rows = []
        for key, v in site["comparison"].items():
            area = key in ("roc_auc", "pr_ap")
            fmt = num3 if area else pct
            ci = v.get("ci95")
            d = "n/a" if v["difference"] is None else (f"{v['difference']:+.3f}" if area else f"{100 * v['difference']:+.1f} pts")
            if ci:
                d += f" ({ci[0]:+.3f} to {ci[1]:+.3f})" if area else f" ({100 * ci[0]:+.1f} to {100 * ci[1]:+.1f})"
            flag = "<span class='flag'>intervals do not overlap</span>" if v.get("flagged") else ""
            rows.append([COMPARE_TITLES.get(key, key), fmt(v["internal"]), fmt(v["external"]), d, flag])
        out.append(f"<h3>{escape(site['name'])}: {site['n']} examples</h3>"
                   + _table(["Figure", "Internal test", "Second site", "Difference (95% CI)", ""], rows))
    if not out:
        return ""
    return ("<h2>Second site</h2><p>The same model and decision rule on another labeled folder; a flagged row "
            "means the drop is larger than chance at these counts.</p>" + "\n".join(out))


def _compact(v, ci) -> str:
    """'83.3%' over a small '43.6–97.0' line: narrow enough for many columns on a page."""
    if v is None:
        return "n/a"
    return pct(v) + (f"<br><span class='muted'>{100 * ci[0]:.1f}\u2013{100 * ci[1]:.1f}</span>" if ci else "")


def _subgroups(metrics: dict) -> str:
    sub = metrics.get("subgroups")
    if not sub:
        return ""
    out = [f"<h2>Subgroups</h2><p>{sub['matched']} examples of the {escape(str(sub.get('split', 'test')))} split "
           f"matched in the attribute file ({sub['unmatched']} not listed). Groups under 30 examples, or with "
           "fewer than 10 of either class, are too small to judge. Under each figure: its 95% interval.</p>"]
    for attr in sub["attributes"]:
        keys = [k for k in ("sensitivity", "specificity", "accuracy") if any(g.get(k) is not None for g in attr["groups"])]
        rows = [[escape(g["value"]), str(g["n"])] + [_compact(g.get(k), (g.get("ci95") or {}).get(k)) for k in keys]
                + [f"<span class='flag'>{escape(g['warning'])}</span>" if g.get("warning") else ""]
                for g in attr["groups"]]
        gaps = "; ".join(f"{FIGURE_TITLES[k].lower()} {100 * v['gap']:.1f} points ({escape(v['worst'])} vs "
                         f"{escape(v['best'])})" for k, v in attr["gaps"].items())
        out.append(f"<h3>{escape(attr['name'])}</h3>" + _table(["Group", "n"] + [FIGURE_TITLES[k] for k in keys] + [""],
                                                               rows)
                   + (f"<p>Worst-group gap: {gaps}.</p>" if gaps else ""))
    return "\n".join(out)


def _errors(ctx: dict) -> str:
    meaning, sections = error_rows(ctx)
    out = []
    for title, rows in sections.items():
        if not rows:
            continue
        image = ctx["modality"] == "image"
        cells = [[thumbnail(p, ctx["modality"])] + ([explanation(ctx, p, d)] if image else [])
                 + [escape(short(p, ctx["roots"])) + ("" if image else "<br>" + explanation(ctx, p, d)),
                    escape(t), escape(d), f"{q:.3f}"] for p, t, d, q in rows]
        header = ["", "Looked at"] if image else [""]
        out.append(f"<h3>{escape(title)}</h3>" + _table(header + ["File", "True", "Decided", meaning.capitalize()],
                                                        cells, numeric_from=len(header) + 3))
    what = ("Beside each image, the parts the model relied on for its decision (Grad-CAM, warm colours)"
            if ctx["modality"] == "image" else "Under each file, the words that pushed the model to its decision "
            "(orange) or away from it (blue; integrated gradients)")
    return ("<h2>Examples of errors</h2><p>Check these labels first: wrong labels are a common cause. "
            f"{what}: a map on a ruler, a corner marker or burned-in text means the model learned a shortcut.</p>"
            + "\n".join(out)) if out else ""


def _limits(ctx: dict, c: dict) -> str:
    test_n = (ctx["metrics"].get("test") or {}).get("n") or 0
    items = ["The figures hold for data like the training data; other scanners, sites, populations or time "
             "periods can do worse. Score a labeled sample of the place it will be used (Second site) first.",
             "The threshold and the temperature were chosen on the validation split; the test split only measured "
             "them. A different prevalence changes PPV and NPV even when sensitivity and specificity hold.",
             "The model always answers with one of its classes, even for inputs that belong to none of them.",
             "It has not been checked for safety in clinical use: a person must review its output."]
    if test_n < 100:
        items.insert(0, f"The test split holds {test_n} examples, so the intervals are wide: read the interval, not "
                        "the point figure.")
    return "<h2>Limits</h2><ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>"


def render(ctx: dict) -> str:
    """The whole report as one HTML string."""
    c = ctx["metrics"].get("clinical") or {}
    title = f"Evaluation report: {escape(ctx['name'])}"
    sub = (f"{escape(str(ctx.get('modality') or ''))} classifier, {len(ctx['classes'])} classes "
           f"({escape(', '.join(ctx['classes'][:8]))}); backbone {escape(str(ctx.get('backbone')))}; "
           f"{'saved bundle' if ctx['kind'] == 'bundle' else 'training run'}; report made {escape(str(ctx['created'])[:10])} "
           f"by Transfer Studio {__version__}.")
    body = [f"<h1>{title}</h1><p class='muted'>{sub}</p>", _data(ctx), _rule(c.get("decision") or {}),
            _figures(c, ctx["metrics"]), _curves(c), _calibration(c), _confusion(ctx, c), _external(ctx["metrics"]),
            _subgroups(ctx["metrics"]), _errors(ctx), _limits(ctx, c)]
    return ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
            f"<title>{title}</title><style>{CSS}</style></head><body>\n" + "\n".join(b for b in body if b)
            + "\n</body></html>\n")
