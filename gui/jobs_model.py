"""State of the app's long requests (Qt-free): a folder predicted into a table, and the learning-rate finder.

Rows and points arrive in the engine's JobProgress messages; the answer (FolderPredicted,
LRFound, or an error) ends the job. Rows are kept compactly (path, labels, probabilities,
error) so a table of 50 000 files stays a few tens of megabytes.
"""
from __future__ import annotations

from dataclasses import dataclass

from .events import EventGroup

LOW_CONFIDENCE = 0.6  # the default "low confidence" line: a top probability below it


@dataclass(frozen=True)
class Row:
    path: str
    labels: tuple
    probs: tuple
    error: str = ""

    @property
    def top(self) -> float | None:
        return self.probs[0] if self.probs else None

    def as_item(self) -> dict:
        """The engine's prediction shape again (what engine.prediction_csv writes)."""
        if self.error:
            return {"path": self.path, "error": self.error}
        return {"path": self.path, "top": [[lab, p] for lab, p in zip(self.labels, self.probs)]}


class FolderJob:
    """Events: `started()`, `rows(first, count)` new rows appended, `progress()`, `finished()`."""

    def __init__(self) -> None:
        self.events = EventGroup(started=(), rows=("first", "count"), progress=(), finished=())
        self.reset()

    def reset(self, folder: str = "", model: str = "", top_k: int = 3) -> None:
        self.folder, self.model, self.top_k = folder, model, top_k
        self.rows: list[Row] = []
        self.done = self.total = self.unreadable = 0
        self.eta_s: float | None = None
        self.per_s = 0.0
        self.running = False
        self.cancelled = False
        self.error = ""
        self.seconds = 0.0

    def start(self, folder: str, model: str, top_k: int) -> None:
        self.reset(folder, model, top_k)
        self.running = True
        self.events.started.emit()

    def add(self, done: int, total: int, eta_s, per_s: float, items: list) -> None:
        first = len(self.rows)
        for it in items:
            if not isinstance(it, dict):
                continue
            top = [t for t in it.get("top") or [] if isinstance(t, (list, tuple)) and len(t) >= 2]
            error = str(it.get("error") or "")
            self.unreadable += bool(error)
            self.rows.append(Row(str(it.get("path", "")), tuple(str(t[0]) for t in top),
                                 tuple(float(t[1]) for t in top), error))
        self.done, self.total, self.eta_s, self.per_s = int(done), int(total), eta_s, float(per_s or 0.0)
        if len(self.rows) > first:
            self.events.rows.emit(first, len(self.rows) - first)
        self.events.progress.emit()

    def finish(self, total: int = 0, done: int = 0, cancelled: bool = False, seconds: float = 0.0,
               error: str = "") -> None:
        self.running = False
        self.total = total or self.total
        self.done = done or self.done
        self.cancelled, self.seconds, self.error = cancelled, seconds, error
        self.eta_s = None
        self.events.finished.emit()

    def classes(self) -> list[str]:
        return sorted({r.labels[0] for r in self.rows if r.labels})

    def status_text(self) -> str:
        if self.error:
            return f"Stopped: {self.error}"
        if self.running:
            from . import format as fmt

            eta = f", about {fmt.duration(self.eta_s)} left" if self.eta_s is not None and self.done else ""
            rate = f", {self.per_s:.0f} files/s" if self.per_s else ""
            return f"{self.done} of {self.total or '…'} files{rate}{eta}"
        if not self.rows and not self.total:
            return ""
        how = "Cancelled after" if self.cancelled else "Done:"
        bad = f"; {self.unreadable} could not be read (listed with the reason)" if self.unreadable else ""
        return f"{how} {self.done} of {self.total} files in {self.seconds:.1f} s{bad}."

    def items(self):
        return (r.as_item() for r in self.rows)


class LRFinder:
    """Events: `started()`, `point()` a new (lr, loss), `finished()` (suggestion known, or error)."""

    def __init__(self) -> None:
        self.events = EventGroup(started=(), point=(), finished=())
        self.reset()

    def reset(self) -> None:
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.suggestion: float | None = None
        self.rule = ""
        self.stopped = ""
        self.running = False
        self.error = ""
        self.done = self.total = 0

    def start(self) -> None:
        self.reset()
        self.running = True
        self.events.started.emit()

    def add(self, done: int, total: int, items: list) -> None:
        for it in items:
            if isinstance(it, (list, tuple)) and len(it) >= 2:
                self.lrs.append(float(it[0]))
                self.losses.append(float(it[1]))
        self.done, self.total = int(done), int(total)
        self.events.point.emit()

    def finish(self, lrs=None, losses=None, suggestion=None, rule: str = "", stopped: str = "",
               error: str = "") -> None:
        self.running = False
        if lrs:
            self.lrs, self.losses = [float(x) for x in lrs], [float(x) for x in losses or []]
        self.suggestion, self.rule, self.stopped, self.error = suggestion, rule, stopped, error
        self.events.finished.emit()

    def text(self) -> str:
        if self.error:
            return f"The learning-rate finder stopped: {self.error}"
        if self.running:
            return f"Trying learning rates… step {self.done} of {self.total or '…'}"
        if self.suggestion:
            ended = {"diverged": "it ended once the loss blew up", "range": "it tried the whole range",
                     "cancelled": "it was cancelled"}.get(self.stopped, self.stopped)
            return (f"Suggested learning rate: <b>{self.suggestion:.2g}</b>, by {self.rule} ({ended}). "
                    "The model's weights were not changed.")
        if self.lrs:
            return "No suggestion: the loss never fell over the rates tried."
        return ""
