"""The app's side of the engine's long requests: a folder into a table (and a CSV), and the
learning-rate finder. Both go through the one request tracker with `on_partial` for the rows
or points on the way, and `Ticket.stop()` for Cancel (the engine answers with what it did)."""
from __future__ import annotations

from engine import protocol as P
from engine.prediction_csv import write_csv

from .errors_text import plain_error


class LongRequests:
    def __init__(self, session):
        self.session = session
        self.folder_ticket = None
        self.lr_ticket = None

    @property
    def m(self):
        return self.session.m

    # ---------------------------------------------------------------- a folder into a table
    def predict_folder(self, folder: str) -> bool:
        res, job = self.m.results, self.m.folder
        if not res.ready or not folder or job.running:
            return False
        k = max(1, min(3, len(res.classes()) or 3))
        job.start(folder, res.run_dir, k)
        self.folder_ticket = self.session.requests.request(
            P.PredictFolder(model=res.run_dir, folder=str(folder), top_k=k), self._folder_done, self._folder_failed,
            busy="folder", on_partial=lambda p: job.add(p.done, p.total, p.eta_s, p.per_s, list(p.items or [])))
        return True

    def cancel_folder(self) -> None:
        if self.folder_ticket is not None:
            self.folder_ticket.stop()

    def _folder_done(self, reply) -> None:
        self.folder_ticket = None
        self.m.folder.finish(reply.total, reply.done, reply.cancelled, reply.seconds)

    def _folder_failed(self, err) -> None:
        self.folder_ticket = None
        cancelled = getattr(err, "kind", "") == "cancelled"
        self.m.folder.finish(cancelled=cancelled, error="" if cancelled else plain_error(err))

    def save_csv(self, path: str) -> int:
        """The table as it is (every row, unfiltered), in the CLI's columns; returns the rows written."""
        job = self.m.folder
        n = write_csv(path, job.items(), job.top_k)
        self.session.notify.emit(f"Saved {n} rows to {path}.", "success", "")
        return n

    # ---------------------------------------------------------------- the learning-rate finder
    def find_lr(self) -> bool:
        s, finder = self.session, self.m.lr
        if finder.running or self.m.run.running:
            return False
        try:
            config = s.current_config()
        except ValueError as exc:
            s.notify.emit(str(exc), "error", "")
            return False
        finder.start()
        self.lr_ticket = s.requests.request(P.FindLR(config=config), self._lr_done, self._lr_failed, busy="lr",
                                            on_partial=lambda p: finder.add(p.done, p.total, list(p.items or [])))
        return True

    def cancel_lr(self) -> None:
        if self.lr_ticket is not None:
            self.lr_ticket.stop()

    def _lr_done(self, reply) -> None:
        self.lr_ticket = None
        self.m.lr.finish(reply.lrs, reply.losses, reply.suggestion, reply.rule, reply.stopped)

    def _lr_failed(self, err) -> None:
        self.lr_ticket = None
        self.m.lr.finish(stopped="cancelled" if getattr(err, "kind", "") == "cancelled" else "",
                         error="" if getattr(err, "kind", "") == "cancelled" else plain_error(err))
