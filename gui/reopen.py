"""Opening what an earlier session left: a run folder, a saved bundle, a stopped run to resume.

A run's results are its folder's metrics.json, read here through engine.history (standard
library only: the run folder is the single source of truth, no engine needed). A bundle is
opened by the engine, which checks every file's hash first (OpenBundle), as the Try page's
predictions on a bundle always have. Resuming after a restart sends the run's own config.json
with `resume_from`, exactly what the Train page's Resume sends within one session.
"""
from __future__ import annotations

import json
from pathlib import Path

from engine import history
from engine import protocol as P

from .errors_text import plain_error


def is_bundle(path: str) -> bool:
    return (Path(path) / "manifest.json").is_file()


class Reopener:
    def __init__(self, session):
        self.session = session

    @property
    def m(self):
        return self.session.m

    def open_run(self, run_dir: str) -> bool:
        """Show a finished run's results; an unfinished one becomes the Train page's stopped run (Resume)."""
        s = self.session
        if not history.is_run_dir(run_dir):
            s.notify.emit(f"{run_dir} is not a run folder (it has no config.json and model.json); choose a folder "
                          "under the runs folder.", "error", "")
            return False
        summary = history.read_summary(run_dir)
        if summary.status == "finished":
            try:
                metrics = json.loads((Path(run_dir) / "metrics.json").read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                s.notify.emit(f"The results of {summary.title} could not be read ({exc}).", "error", "")
                return False
            self.m.results.set_result(str(run_dir), metrics)
            return True
        self.stopped_run(summary)
        if summary.status == "running":
            s.notify.emit(f"{summary.title} looks like it is still training elsewhere; open it once it ends.",
                          "warning", "")
        elif summary.resumable:
            s.notify.emit(f"{summary.title} did not finish ({summary.reason}); it can go on from its last "
                          "checkpoint.", "info", "resume")
        else:
            s.notify.emit(f"{summary.title} did not finish ({summary.reason}) and saved no checkpoint to go on "
                          "from; start it again instead.", "warning", "")
        return True

    def stopped_run(self, summary) -> None:
        """Make a run of an earlier session the Train page's run, stopped, so Resume works on it."""
        run = self.m.run
        if run.running:
            return
        run.reset()
        run.config = history.read_config(summary.path)
        run.run_dir = summary.path
        last = Path(summary.path) / "checkpoints" / "last"
        run.last_checkpoint = str(last) if summary.resumable else None
        run.stopped = "failed" if summary.status == "failed" else "cancelled"
        run.log("info", f"Opened {summary.path}: {summary.status} ({summary.reason}).")
        run.events.changed.emit()

    def resume_run(self, run_dir: str) -> bool:
        """Go on training a stopped run from its last checkpoint (after an app restart, too)."""
        s = self.session
        if self.m.run.running:
            s.notify.emit("A run is training; wait for it or cancel it before resuming another.", "warning", "")
            return False
        summary = history.read_summary(run_dir)
        if not summary.resumable:
            s.notify.emit(f"{summary.title} has no checkpoint to resume from ({summary.reason}).", "error", "")
            return False
        self.stopped_run(summary)
        s.resume()
        return True

    def open_bundle(self, path: str) -> None:
        self.session.request(P.OpenBundle(path=str(path)), self._on_bundle, self._on_bundle_error, busy="open")

    def _on_bundle(self, reply) -> None:
        res = self.m.results
        metrics = dict(reply.metrics or {})
        metrics.setdefault("classes", list(reply.classes or []))
        res.set_result(reply.path, metrics, source="bundle")
        res.model_card = reply.model_card or ""
        res.events.saved.emit()

    def _on_bundle_error(self, err) -> None:
        self.session.notify.emit(plain_error(err), "error", "")
