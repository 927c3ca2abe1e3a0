"""State of the Results page's clinical evaluation (Qt-free): the decision rule the engine chose,
the run's cached probabilities, and the threshold the person is looking at.

Moving the threshold recomputes every figure here from the cached probabilities with the
engine's own numpy-only rules (engine.evaluate.operating, engine.bundle.decision): no
model runs and no rule is re-implemented. Choosing another positive class or method asks
the engine (a Reconsider request, sent by the window), which also redraws the curves.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.bundle.decision import calibrate
from engine.evaluate.operating import FIGURE_TITLES, FIGURES, METHOD_TITLES, METHODS, at_threshold, compare
from engine.evaluate.subgroups import attribute_table

from .events import EventGroup

COMPARE_TITLES = {**FIGURE_TITLES, "roc_auc": "ROC AUC", "pr_ap": "Average precision"}


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def ci_text(v, ci, area: bool = False) -> str:
    if v is None:
        return "–"
    if area:
        return f"{v:.3f}" + (f" ({ci[0]:.3f}–{ci[1]:.3f})" if ci else "")
    return _pct(v) + (f" ({100 * ci[0]:.1f}–{100 * ci[1]:.1f})" if ci else "")


class ClinicalModel:
    """Events: `result()` a new evaluation or rule arrived; `threshold(value)` the threshold moved;
    `busy(on)` a clinical request is in flight; `report(path)` a report was written."""

    def __init__(self) -> None:
        self.events = EventGroup(result=(), threshold=("value",), busy=("on",), report=("path",))
        self.run_dir: str | None = None
        self.metrics: dict = {}
        self.classes: list[str] = []
        self.cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # split -> (labels, calibrated probs)
        self.sites: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # second site -> (labels, calibrated probs)
        self.threshold: float | None = None
        self.last_site: dict = {}

    # ---------------------------------------------------------------- input
    def set_result(self, run_dir: str | None, metrics: dict) -> None:
        self.run_dir = run_dir
        self.metrics = metrics if isinstance(metrics, dict) else {}
        self.classes = [str(c) for c in self.metrics.get("classes") or []]
        self.cache = self._read_cache()
        self.sites = self._read_sites()
        self.threshold = self.rule().get("threshold")
        self.events.result.emit()

    def _read_cache(self) -> dict:
        """Labels and calibrated probabilities per split from the run's predictions.json ({} if absent)."""
        try:
            d = json.loads((Path(self.run_dir or "") / "predictions.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        t = self.rule().get("temperature") or 1.0
        out = {}
        for split in ("val", "test"):
            s = d.get(split) if isinstance(d, dict) else None
            if s and s.get("labels"):
                probs = np.asarray(s["probs"], dtype=np.float64).reshape(len(s["labels"]), -1)
                out[split] = (np.asarray(s["labels"], dtype=np.int64), calibrate(probs, t))
        return out

    def _read_sites(self) -> dict:
        """Each kept second site's labels and calibrated probabilities (the run's external.json)."""
        try:
            d = json.loads((Path(self.run_dir or "") / "external.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        t = self.rule().get("temperature") or 1.0
        return {s["name"]: (np.asarray(s["labels"], dtype=np.int64),
                            calibrate(np.asarray(s["probs"], dtype=np.float64).reshape(len(s["labels"]), -1), t))
                for s in d.get("sites") or [] if s.get("labels") and s.get("classes") == self.classes}

    def _moved(self) -> bool:
        t = self.rule().get("threshold")
        return self.binary and self.threshold is not None and t is not None and abs(self.threshold - t) > 1e-9

    def set_threshold(self, value: float) -> None:
        self.threshold = float(min(1.0, max(0.0, value)))
        self.events.threshold.emit(self.threshold)

    # ---------------------------------------------------------------- reading
    @property
    def clinical(self) -> dict:
        c = self.metrics.get("clinical")
        return c if isinstance(c, dict) else {}

    def rule(self) -> dict:
        r = self.clinical.get("decision")
        return r if isinstance(r, dict) else {}

    @property
    def available(self) -> bool:
        return bool(self.rule())

    @property
    def binary(self) -> bool:
        return self.rule().get("threshold") is not None and len(self.classes) == 2

    def options(self) -> dict:
        return dict(self.rule().get("options") or {})

    def positive(self) -> str | None:
        return self.rule().get("positive_class")

    def method_titles(self) -> list[tuple[str, str]]:
        return [(m, METHOD_TITLES[m]) for m in METHODS]

    def explanation(self) -> str:
        """Why this class is positive and why this threshold (the engine's own sentences)."""
        r = self.rule()
        parts = [r.get("positive_reason", ""), "Threshold " + r.get("reason", "") if r.get("threshold") is not None
                 else r.get("reason", "")]
        t = r.get("temperature") or 1.0
        if t != 1.0:
            parts.append(f"Probabilities are temperature-scaled (T = {t:.2f}, fitted on validation).")
        elif r.get("temperature_note"):
            parts.append(r["temperature_note"])
        if r.get("refit_note"):
            parts.append(r["refit_note"])
        if self._moved():
            parts.append(f"Showing {self.threshold:.3f}, moved by hand: press Keep to save it in the model.")
        return " ".join(p for p in parts if p)

    def figures(self, split: str) -> dict | None:
        """Figures at the current threshold from the cached probabilities (binary), else the engine's."""
        if self.binary and split in self.cache and self.threshold is not None:
            y, p = self.cache[split]
            pos = self.classes.index(self.positive())
            return at_threshold(y == pos, p[:, pos], self.threshold)
        return (self.clinical.get(split) or {}).get("at_threshold")

    def figure_rows(self) -> list[tuple[str, str, str]]:
        """(figure, test value (95% CI), validation value (95% CI)) at the current threshold."""
        test, val = self.figures("test") or {}, self.figures("val") or {}
        rows = [(FIGURE_TITLES[k], ci_text(test.get(k), (test.get("ci95") or {}).get(k)),
                 ci_text(val.get(k), (val.get("ci95") or {}).get(k))) for k in FIGURES if k in test or k in val]
        if test.get("counts") or val.get("counts"):
            def counts(c):
                return f"TP {c['tp']} FP {c['fp']} TN {c['tn']} FN {c['fn']}" if c else "–"
            rows.append(("Counts", counts(test.get("counts")), counts(val.get("counts"))))
        for key, area, title in (("roc", "auc", "ROC AUC"), ("pr", "ap", "Average precision")):
            t = ((self.clinical.get("test") or {}).get("curves") or {}).get(key) or {}
            v = ((self.clinical.get("val") or {}).get("curves") or {}).get(key) or {}
            if t or v:
                rows.append((title, ci_text(t.get(area), t.get("ci95"), True), ci_text(v.get(area), v.get("ci95"), True)))
        for r in (self.clinical.get("test") or {}).get("one_vs_rest") or []:
            rows.append((f"{r['class']}: sensitivity / specificity",
                         f"{_pct(r['sensitivity'])} / {_pct(r['specificity'])}", ""))
        return rows

    def counts(self) -> dict | None:
        f = self.figures("test")
        return (f or {}).get("counts")

    def curves(self, split: str = "test") -> list[tuple[str, dict]]:
        """[(label, {"roc", "pr"})]: the positive class's curves, or each class against the rest."""
        s = self.clinical.get(split) or {}
        if s.get("curves"):
            return [(self.positive() or "", s["curves"])]
        return [(o["class"], o) for o in s.get("curves_one_vs_rest") or []]

    def operating_point(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """((1 - specificity, sensitivity) on ROC, (sensitivity, PPV) on PR) of the test split now."""
        f = self.figures("test")
        if not self.binary or not f or f.get("specificity") is None or f.get("sensitivity") is None:
            return None
        return (1 - f["specificity"], f["sensitivity"]), (f["sensitivity"], f["ppv"] if f["ppv"] is not None else 1.0)

    def calibration(self) -> dict | None:
        return (self.clinical.get("test") or {}).get("calibration") or (self.clinical.get("val") or {}).get("calibration")

    def calibration_text(self) -> str:
        c = self.calibration()
        if not c:
            return ""
        return (f"Expected calibration error {ci_text(c['ece_before'], c.get('ece_before_ci95'), True)} before "
                f"scaling, {ci_text(c['ece_after'], c.get('ece_after_ci95'), True)} after; log-loss "
                f"{c['log_loss_before']:.3f} → {c['log_loss_after']:.3f}.")

    def external_rows(self) -> list[tuple[str, str, str, str, str, bool]]:
        """(site, figure, internal, external, difference (95% CI), flagged) for every kept site."""
        rows = []
        for site in self.metrics.get("external") or ([self.last_site] if self.last_site else []):
            comparison = dict(site.get("comparison") or {})
            if self._moved() and site.get("name") in self.sites and self.figures("test"):
                y, p = self.sites[site["name"]]
                pos = self.classes.index(self.positive())
                comparison.update(compare(self.figures("test"), at_threshold(y == pos, p[:, pos], self.threshold)))
            for key, c in comparison.items():
                area = key in ("roc_auc", "pr_ap")
                d, ci = c.get("difference"), c.get("ci95")
                diff = "–" if d is None else (f"{d:+.3f}" if area else f"{100 * d:+.1f} pts")
                if ci:
                    diff += f" ({ci[0]:+.3f} to {ci[1]:+.3f})" if area else f" ({100 * ci[0]:+.1f} to {100 * ci[1]:+.1f})"
                fmt = (lambda v: "–" if v is None else f"{v:.3f}") if area else _pct
                rows.append((f"{site['name']} ({site['n']})", COMPARE_TITLES.get(key, key), fmt(c.get("internal")),
                             fmt(c.get("external")), diff, bool(c.get("flagged"))))
        return rows

    def subgroup_rows(self) -> list[tuple[str, str, str, str, str, str]]:
        """(attribute, group, n, sensitivity, specificity or accuracy, note) rows, then each gap."""
        sub = self.metrics.get("subgroups") or {}
        rows = []
        for attr in sub.get("attributes") or []:
            groups, gaps = attr["groups"], attr.get("gaps") or {}
            if self._moved() and "test" in self.cache and all("rows" in g for g in groups):
                y, p = self.cache["test"]
                groups, gaps = attribute_table(y, p, self.classes, {**self.rule(), "threshold": self.threshold},
                                               {g["value"]: g["rows"] for g in groups})
            for g in groups:
                second = "specificity" if "specificity" in g else "accuracy"
                first = "sensitivity" if "sensitivity" in g else "accuracy"
                rows.append((attr["name"], g["value"], str(g["n"]), ci_text(g.get(first), g["ci95"].get(first)),
                             ci_text(g.get(second), g["ci95"].get(second)) if second != first else "",
                             g.get("warning") or ""))
            for k, gap in gaps.items():
                rows.append((attr["name"], f"gap in {k}", "", f"{100 * gap['gap']:.1f} points", "",
                             f"worst {gap['worst']}, best {gap['best']}"))
        return rows

    def subgroup_header(self) -> list[str]:
        first = "Sensitivity" if self.binary else "Accuracy"
        return ["Attribute", "Group", "n", first, "Specificity" if self.binary else "", "Note"]

    # ---------------------------------------------------------------- what to ask the engine
    def options_for(self, positive: str | None, method: str, target: float | None, cost_ratio: float | None) -> dict:
        base = self.options()
        base.update(positive=positive, method=method, target=target, cost_ratio=cost_ratio, threshold=None)
        return base

    def manual_options(self) -> dict:
        base = self.options()
        base.update(positive=self.positive(), method="manual", threshold=self.threshold)
        return base
