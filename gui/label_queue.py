"""Asks the engine for the labeling queue (`LabelQueue`, engine/labels/queue.py): the model's guess
for each unlabeled file, most useful first (the least sure, each batch spread out), latest
request wins. The GUI keeps its own seeded random order; the engine's order is used for
"Most useful first", and its guesses are shown in either order.
"""
from __future__ import annotations

from engine import protocol as P
from engine.vocabulary import QueueStrategy

from .label_model import LabelModel

LIMIT = 2000  # files ranked and sent: far more than a person labels before training again


class QueueAsker:
    def __init__(self, session, model: LabelModel, on_progress=None):
        self.session = session
        self.model = model
        self.on_progress = on_progress  # (done, total) files scored so far: a large folder takes a while
        self.ticket = None

    def ask(self, run_dir: str) -> None:
        m = self.model
        if self.ticket is not None:
            self.ticket.cancel()  # an older model's queue is not wanted any more
        self.ticket = self.session.requests.request(
            P.LabelQueue(root=m.root, model=run_dir, strategy=QueueStrategy.USEFUL, seed=m.seed, limit=LIMIT),
            lambda reply: self._on_queue(run_dir, reply),
            lambda err: m.events.problem.emit(err.message), busy="label_queue",
            on_partial=lambda p: self.on_progress and self.on_progress(int(p.done), int(p.total)))

    def _on_queue(self, run_dir: str, reply) -> None:
        self.ticket = None
        if reply.root and self.model.root and reply.root != self.model.root:
            return  # another folder was opened meanwhile
        rows = [{"path": i["path"], "label": i.get("guess"), "confidence": i.get("confidence")}
                for i in reply.items or [] if isinstance(i, dict) and i.get("path")]
        self.model.set_suggestions(run_dir, rows)
