"""Asking the engine for the clinical evaluation's changes (a new rule, a second site, subgroups,
the report) and putting the answers into the ClinicalModel; the Results panel never calls the
engine itself. A PDF report is the engine's HTML printed by Qt (gui/report_print.py)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject

from engine import protocol as P

from .clinical_model import ClinicalModel
from .errors_text import plain_error

BUSY = "clinical"


class ClinicalController(QObject):
    def __init__(self, session, model: ClinicalModel, results, parent: QObject | None = None):
        super().__init__(parent or session)
        self.session = session
        self.model = model
        self.results = results  # the ResultsModel: its new metrics reach every page through its event
        session.requests.busyChanged.connect(lambda name, on: name == BUSY and model.events.busy.emit(on))

    def listen_to(self, panel) -> None:
        """Carry out what the Results page's clinical panel asks for."""
        panel.reconsiderRequested.connect(self.reconsider)
        panel.keepThresholdRequested.connect(self.reconsider)
        panel.siteRequested.connect(self.evaluate_site)
        panel.subgroupsRequested.connect(self.audit_subgroups)
        panel.reportRequested.connect(self.save_report)

    def _ask(self, msg: P.Message, on_reply) -> None:
        self.session.request(msg, on_reply, self._failed, busy=BUSY)

    def _failed(self, err) -> None:
        self.session.notify.emit(plain_error(err), "error", "")

    def _updated(self, reply) -> None:
        """The run's metrics changed (a new rule, site or audit): the Scores tab, this tab and the Save
        step (a bundle saved before holds the old rule) all follow the ResultsModel."""
        if reply.metrics:
            self.results.set_result(self.model.run_dir, dict(reply.metrics))

    def reconsider(self, options: dict) -> None:
        if self.model.run_dir:
            self._ask(P.Reconsider(run_dir=self.model.run_dir, options=dict(options)), self._updated)

    def evaluate_site(self, folder: str, name: str = "") -> None:
        if not self.model.run_dir or not folder:
            return

        def done(reply):
            self.model.last_site = dict(reply.site or {})
            self._updated(reply)
            flagged = (reply.site or {}).get("flagged") or []
            self.session.notify.emit(
                f"Scored {reply.site.get('n', 0)} examples from {Path(folder).name}"
                + (f"; intervals do not overlap for {', '.join(flagged)}." if flagged else "."), "info", "")

        self._ask(P.EvaluateFolder(model=self.model.run_dir, data=[folder], site=name), done)

    def audit_subgroups(self, csv_path: str) -> None:
        if self.model.run_dir and csv_path:
            self._ask(P.AuditSubgroups(run_dir=self.model.run_dir, csv=csv_path), self._updated)

    def save_report(self, path: str) -> None:
        if not self.model.run_dir or not path:
            return
        target = Path(path)
        html = target if target.suffix.lower() != ".pdf" else target.with_suffix(".html")

        def done(reply):
            written = reply.path
            if target.suffix.lower() == ".pdf":
                from .report_print import html_to_pdf

                written = str(html_to_pdf(Path(reply.path).read_text(encoding="utf-8"), target))
            self.model.events.report.emit(written)
            self.session.notify.emit(f"Saved the report to {written}.", "success", "")

        self._ask(P.SaveReport(model=self.model.run_dir, out=str(html)), done)
