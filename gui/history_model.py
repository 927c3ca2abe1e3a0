"""The Runs view's state (Qt-free): every run in the runs folder, filtered, and the ones chosen to compare.

The run folders are the single source of truth: this model reads them with engine.history
(standard library only) each time it is refreshed, and a rename, a note or a delete is
written to the folder first and then read back, so it never shows what the disk does not hold.
"""
from __future__ import annotations

import time

from engine import history

from . import format as fmt
from .events import EventGroup

STATUS_TEXT = {"finished": "Finished", "stopped": "Stopped", "failed": "Failed", "running": "Running"}


def when(created: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(created)) if created else ""


def freezing_text(r: history.RunSummary) -> str:
    if r.freeze is None:
        return ""
    if r.stages and r.freeze >= r.stages:
        return "linear probe (all frozen)"
    return f"{r.freeze} of {r.stages} stages frozen" if r.stages else f"{r.freeze} stages frozen"


def figure_text(r: history.RunSummary, key: str = "accuracy") -> str:
    """"88.9 % (80.0–97.8) on 45 test" or "" when the run has no held-out figures."""
    f = r.figures
    if f.get(key) is None:
        return ""
    ci = f.get(f"{key}_ci")
    interval = f" ({100 * ci[0]:.1f}–{100 * ci[1]:.1f})" if ci else ""
    split = {"test": "test", "val": "validation"}.get(f.get("split"), f.get("split", ""))
    return f"{fmt.percent(f[key])}{interval} on {f.get('n') or '?'} {split}"


def data_text(r: history.RunSummary) -> str:
    names = ", ".join(d.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] for d in r.data)
    counts = "/".join(str(r.counts[k]) for k in ("train", "val", "test") if k in r.counts)
    return f"{names} ({counts})" if counts else names


class RunsModel:
    """Events: `listed()` the runs were read again, `selection()` the runs chosen changed."""

    def __init__(self, runs_root: str):
        self.events = EventGroup(listed=(), selection=())
        self.runs_root = str(runs_root)
        self.runs: list[history.RunSummary] = []
        self.text_filter = ""
        self.status_filter = ""  # "" = any, else a status
        self.selected: list[str] = []  # run paths, in the order chosen
        self.read_ms = 0.0

    def refresh(self) -> None:
        t0 = time.perf_counter()
        self.runs = history.list_runs(self.runs_root)
        self.read_ms = (time.perf_counter() - t0) * 1000
        paths = {r.path for r in self.runs}
        self.selected = [p for p in self.selected if p in paths]
        self.events.listed.emit()

    def run(self, path: str) -> history.RunSummary | None:
        return next((r for r in self.runs if r.path == path), None)

    def visible(self) -> list[history.RunSummary]:
        words = self.text_filter.lower().split()
        out = []
        for r in self.runs:
            if self.status_filter and r.status != self.status_filter:
                continue
            hay = " ".join([r.title, r.name, r.note, r.backbone, r.backbone_name, data_text(r), r.status,
                            r.reason, r.device]).lower()
            if all(w in hay for w in words):
                out.append(r)
        return out

    def set_filter(self, text: str | None = None, status: str | None = None) -> None:
        if text is not None:
            self.text_filter = text
        if status is not None:
            self.status_filter = status
        self.events.listed.emit()

    def select(self, paths: list[str]) -> None:
        if paths != self.selected:
            self.selected = list(paths)
            self.events.selection.emit()

    # ---------------------------------------------------------------- changes, written to the folder
    def rename(self, path: str, name: str) -> None:
        history.set_notes(path, display_name=name)
        self.refresh()

    def set_note(self, path: str, note: str) -> None:
        history.set_notes(path, note=note)
        self.refresh()

    def delete(self, path: str) -> None:
        history.delete_run(path, self.runs_root)
        self.refresh()


class Comparison:
    """Two or more runs side by side: their curves, settings (differences first) and figures."""

    CURVES = (("loss", "Loss"), ("accuracy", "Accuracy"), ("lr", "Learning rate"))

    def __init__(self, runs: list[history.RunSummary]):
        self.runs = list(runs)
        self.curves = [history.read_curves(r.path) for r in self.runs]
        self.settings = history.settings_table([history.read_config(r.path) for r in self.runs])

    def series(self, kind: str) -> list[tuple[str, str, list[float], list[float]]]:
        """(run title, series name, x, y) for one plot: loss / accuracy per epoch, lr per step."""
        out = []
        for r, c in zip(self.runs, self.curves):
            if kind == "lr":
                wanted = [("lr", c.steps, c.step_values.get("lr"))]
            else:
                wanted = [(name, c.epochs, c.epoch_values.get(name)) for name in (f"train_{kind}", f"val_{kind}")]
            for name, xs, ys in wanted:
                pts = [(x, y) for x, y in zip(xs, ys or []) if y is not None]
                if pts:
                    out.append((r.title, name, [p[0] for p in pts], [p[1] for p in pts]))
        return out

    def figures(self) -> list[tuple[str, list[str]]]:
        """Rows (figure, text per run) with the 95% intervals."""
        rows = [("Status", [f"{STATUS_TEXT.get(r.status, r.status)}" + (f": {r.reason}" if r.reason else "")
                            for r in self.runs])]
        for key, title in (("accuracy", "Accuracy"), ("balanced_accuracy", "Balanced accuracy"),
                           ("macro_f1", "Macro F1")):
            rows.append((title, [figure_text(r, key) or "—" for r in self.runs]))
        rows.append(("Best validation", [f"{r.best.get('monitor', '')} {r.best['score']:.3f} (epoch {r.best.get('epoch')})"
                                         if r.best.get("score") is not None else "—" for r in self.runs]))
        rows.append(("Duration", [fmt.duration(r.duration_s) if r.duration_s is not None else "—" for r in self.runs]))
        return rows
