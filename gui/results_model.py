"""State of the Results, Try-it and Save steps (Qt-free).

Reads the evaluation dict of a `Result` (per split: accuracy, balanced_accuracy, macro_f1,
ci95, per_class, confusion_matrix, classes, confident_errors / most_confident_wrong;
optional `predictions` [{path, true, predicted, probability}]) and tolerates any key being
absent. Files behind a confusion-matrix cell come from `predictions` when the engine
sent them, else from predicting the split's files (listed in the run's splits.json).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import format as fmt
from .events import EventGroup

SPLIT_TITLES = {"test": "Test set", "val": "Validation set"}
HEADLINE = (("accuracy", "Accuracy"), ("balanced_accuracy", "Balanced accuracy"), ("macro_f1", "Macro F1"))
BINARY = (("sensitivity", "Sensitivity"), ("specificity", "Specificity"), ("ppv", "PPV"), ("npv", "NPV"),
          ("roc_auc", "ROC AUC"))
WRONG_KEYS = ("most_confident_wrong", "confident_errors")
NOT_SPLITS = ("test", "val", "simple_baseline")  # listed first / not a split (it has an accuracy too)


@dataclass(frozen=True)
class ClassRow:
    label: str
    precision: float | None
    recall: float | None
    f1: float | None
    support: int | None


@dataclass(frozen=True)
class Example:
    path: str
    true: str
    predicted: str
    probability: float | None


def _num(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _interval(ci) -> str:
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(_num(v) is not None for v in ci):
        return f" ({100 * ci[0]:.1f}–{100 * ci[1]:.1f})"
    return ""


class ResultsModel:
    """Events: `result()` a finished run's evaluation arrived, `cells(split)` a split's files were
    predicted, `predictions()` Try-it answers, `saved()` the bundle was written."""

    def __init__(self) -> None:
        self.events = EventGroup(result=(), cells=("split",), predictions=(), saved=())
        self.run_dir: str | None = None  # the run folder, or the bundle folder when `source` is "bundle"
        self.source = "run"  # "run" (trained here or reopened) | "bundle" (opened; cannot be saved again)
        self.metrics: dict = {}
        self.split: str | None = None
        self.predictions: list[dict] = []  # Try it
        self.saved_path: str | None = None
        self.model_card: str = ""
        self.cell_predictions: dict[str, list[dict]] = {}  # split -> predicted split files

    def set_result(self, run_dir: str, metrics: dict, source: str = "run") -> None:
        self.run_dir = run_dir
        self.source = source
        self.metrics = metrics if isinstance(metrics, dict) else {}
        self.predictions, self.saved_path, self.model_card = [], None, ""
        self.cell_predictions = {}
        splits = self.splits()
        self.split = "test" if "test" in splits else (splits[0] if splits else None)
        self.events.result.emit()

    @property
    def ready(self) -> bool:
        return bool(self.run_dir)

    @property
    def can_save(self) -> bool:
        return self.ready and self.source == "run"

    def splits(self) -> list[str]:
        return [k for k in ("test", "val") if isinstance(self.metrics.get(k), dict)] + sorted(
            k for k, v in self.metrics.items() if isinstance(v, dict) and k not in NOT_SPLITS
            and ("accuracy" in v or "confusion_matrix" in v))

    def split_title(self, split: str) -> str:
        """The split's name and how many examples its figures rest on (a figure on a handful of
        examples is mostly luck); after a refit, validation was scored on the model selected before it."""
        refit = self.metrics.get("refit") if isinstance(self.metrics.get("refit"), dict) else None
        title = "Validation set (model before the final refit)" if split == "val" and refit else \
            SPLIT_TITLES.get(split, split)
        n = (self.metrics.get(split) or {}).get("n") if isinstance(self.metrics.get(split), dict) else None
        return f"{title} · {n:,} example{'s' if n != 1 else ''}" if isinstance(n, int) else title

    def _m(self) -> dict:
        return self.metrics.get(self.split or "", {}) if self.split else {}

    def headline(self) -> list[tuple[str, str]]:
        """(title, "92.0 %" or "92.0 % (88.1–95.3)" with the 95% interval when known)."""
        m = self._m()
        ci = m.get("ci95") if isinstance(m.get("ci95"), dict) else {}
        out = []
        for key, title in HEADLINE:
            if key in m:
                out.append((title, fmt.percent(_num(m.get(key))) + _interval(ci.get(key))))
        binary = m.get("binary") if isinstance(m.get("binary"), dict) else {}
        for key, title in BINARY:
            if _num(binary.get(key)) is not None:
                out.append((title, fmt.percent(_num(binary[key])) + _interval(ci.get(key))))
        return out

    def baseline_note(self) -> str:
        """How a simple non-neural baseline scored on the split shown ("" when it was not scored there)."""
        b = self.metrics.get("simple_baseline")
        acc = _num(b.get("accuracy")) if isinstance(b, dict) else None
        if acc is None or b.get("split") != self.split:
            return ""
        ours = _num(self._m().get("accuracy"))
        verdict = ("above the model: the pretrained backbone does not suit this data well"
                   if ours is not None and acc > ours else "below the model")
        method = b.get("method", "logistic regression")
        caveat = (" The model's epoch was chosen on this split, which flatters it; a test split is fairer."
                  if self.split == "val" else "")
        return f"A simple baseline ({method}) scores {fmt.percent(acc)} here, {verdict}.{caveat}"

    def selection_note(self) -> str:
        """Which model the run kept, the fine-tune or the linear probe that competed with it ("" if none did)."""
        sel = self.metrics.get("selection")
        if not isinstance(sel, dict) or not sel.get("winner"):
            return ""
        key = str(sel.get("monitor") or "val_accuracy")
        simple = sel.get("simple") if isinstance(sel.get("simple"), dict) else {}
        s, n = (_num((simple.get(k) or {}).get(key)) for k in ("val", "network_val"))
        if sel["winner"] == "simple model" and s is not None and n is not None:
            return (f"Kept: a simple model, not a neural network ({simple.get('method', 'logistic regression')}; "
                    f"validation {key.removeprefix('val_').replace('_', ' ')} {fmt.percent(s)} against the "
                    f"network's {fmt.percent(n)}, better beyond chance). The pretrained backbone did not help this "
                    "data; Save writes the simple model, with ONNX and predict.py like any other.")
        probe, ft = ((sel.get(k) or {}).get("val") or {} for k in ("probe", "fine_tune"))
        p, f = _num(probe.get(key)), _num(ft.get(key))
        if p is None or f is None:
            return ""
        name = key.removeprefix("val_").replace("_", " ")
        also = (f" A simple model ({simple.get('method', 'logistic regression')}) scored {fmt.percent(s)}."
                if s is not None else "")
        if sel.get("network_winner", sel["winner"]) == "linear probe":
            return (f"Kept: a linear probe on the frozen backbone (validation {name} {fmt.percent(p)}), because the "
                    f"fine-tune scored lower ({fmt.percent(f)}) on the same validation examples, beyond chance.{also}")
        test = sel.get("disagreements") if isinstance(sel.get("disagreements"), dict) else None
        if test:
            return (f"Kept: the fine-tune (validation {name} {fmt.percent(f)}). A linear probe on the frozen backbone "
                    f"scored {fmt.percent(p)}, higher but not beyond chance: right on "
                    f"{test.get('probe_right_finetune_wrong')} examples the fine-tune got wrong, wrong on "
                    f"{test.get('finetune_right_probe_wrong')} it got right.{also}")
        return (f"Kept: the fine-tune (validation {name} {fmt.percent(f)}); a linear probe on the frozen backbone "
                f"scored {fmt.percent(p)}.{also}")

    def classes(self) -> list[str]:
        m = self._m()
        if isinstance(m.get("classes"), list):
            return [str(c) for c in m["classes"]]
        if isinstance(self.metrics.get("classes"), list):
            return [str(c) for c in self.metrics["classes"]]
        return [str(r.get("label", r.get("name"))) for r in m.get("per_class") or [] if isinstance(r, dict)]

    def per_class(self) -> list[ClassRow]:
        rows = []
        for r in self._m().get("per_class") or []:
            if isinstance(r, dict):
                support = r.get("support")
                rows.append(ClassRow(str(r.get("label", r.get("name", "?"))), _num(r.get("precision")), _num(r.get("recall")),
                                     _num(r.get("f1")), int(support) if _num(support) is not None else None))
        return rows

    def confusion(self) -> list[list[int]]:
        cm = self._m().get("confusion_matrix")
        if not isinstance(cm, list):
            return []
        return [[int(v) if _num(v) is not None else 0 for v in row] for row in cm if isinstance(row, list)]

    def _examples(self, key: str, source: list | None = None) -> list[Example]:
        out = []
        for e in (self._m().get(key) if source is None else source) or []:
            if isinstance(e, dict) and e.get("path"):
                out.append(Example(str(e["path"]), str(e.get("true", "?")), str(e.get("predicted", "?")),
                                   _num(e.get("probability"))))
        return out

    def wrong_examples(self) -> list[Example]:
        for key in WRONG_KEYS:
            if self._m().get(key):
                return self._examples(key)
        return []

    def cell_examples(self, true_index: int, pred_index: int) -> list[Example]:
        """Files whose true label is row `true_index` and prediction column `pred_index`."""
        classes = self.classes()
        if not (0 <= true_index < len(classes) and 0 <= pred_index < len(classes)):
            return []
        t, p = classes[true_index], classes[pred_index]
        pool = (self._examples("predictions") or self._examples("", self.cell_predictions.get(self.split or ""))
                or self.wrong_examples())
        seen, out = set(), []
        for e in pool:
            if e.true == t and e.predicted == p and e.path not in seen:
                seen.add(e.path)
                out.append(e)
        return sorted(out, key=lambda e: -(e.probability or 0))

    def has_cell_files(self) -> bool:
        return bool(self._m().get("predictions")) or (self.split or "") in self.cell_predictions

    def split_files(self) -> list[tuple[str, str]]:
        """(path, true class) of the current split, from the run's splits.json; [] if unknown."""
        try:
            splits = json.loads((Path(self.run_dir or "") / "splits.json").read_text(encoding="utf-8"))
            classes = [str(c) for c in splits.get("classes") or self.classes()]
            rows = splits.get(self.split or "") or []
            return [(str(r[0]), classes[int(r[1])]) for r in rows
                    if isinstance(r, list) and len(r) >= 2 and "#" not in str(r[0])]
        except (OSError, ValueError, TypeError, IndexError, AttributeError):
            return []

    def set_cell_predictions(self, split: str, files: list[tuple[str, str]], items: list) -> None:
        """Join Predict results with the true classes of `files` (same order)."""
        truth = dict(files)
        rows = []
        for item in items:
            if isinstance(item, dict) and item.get("top") and item.get("path") in truth:
                label, p = item["top"][0][0], item["top"][0][1]
                rows.append({"path": item["path"], "true": truth[item["path"]], "predicted": str(label),
                             "probability": _num(p)})
        self.cell_predictions[split] = rows
        self.events.cells.emit(split)

    def weakest_class(self) -> str | None:
        rows = [r for r in self.per_class() if r.f1 is not None]
        if len(rows) < 2:
            return None
        worst = min(rows, key=lambda r: r.f1)
        return worst.label if worst.f1 < max(r.f1 for r in rows) else None

    # ---------------------------------------------------------------- try it / save
    def set_predictions(self, items: list) -> None:
        self.predictions = [i for i in items if isinstance(i, dict)]
        self.events.predictions.emit()

    def prediction_rows(self) -> list[tuple[str, list[tuple[str, float]], str]]:
        """(path, [(label, probability)...], error) per file."""
        rows = []
        for item in self.predictions:
            top = [(str(t[0]), float(t[1])) for t in item.get("top") or []
                   if isinstance(t, (list, tuple)) and len(t) >= 2 and _num(t[1]) is not None]
            rows.append((str(item.get("path", "")), top, str(item.get("error") or "")))
        return rows

    def decision_text(self, path: str) -> str:
        """The engine's decision for a predicted file under the model's rule ('' when it sent none)."""
        item = next((i for i in self.predictions if i.get("path") == path), None) or {}
        decision = item.get("decision")
        if not decision:
            return ""
        p, t = _num(item.get("positive_probability")), _num(item.get("threshold"))
        if p is None or t is None:
            return f"Decision: {decision}"
        return f"Decision: {decision} (positive-class probability {fmt.percent(p)}, threshold {t:.3f})"

    def set_saved(self, path: str, model_card: str) -> None:
        self.saved_path, self.model_card = path, model_card or ""
        self.events.saved.emit()
