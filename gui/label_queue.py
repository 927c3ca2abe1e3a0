"""Asks the engine for the labeling queue: the model's guess for each unlabeled file and the
order that teaches the model most ("most useful first"), latest request wins.

Interim: until the engine's labeling-queue request is merged, the guesses come from the
ordinary Predict request and the order is the least sure first (lowest top probability),
without the engine's diversity.
"""
from __future__ import annotations

from engine import protocol as P

from .label_model import LabelModel


class QueueAsker:
    def __init__(self, session, model: LabelModel):
        self.session = session
        self.model = model
        self.ticket = None

    def ask(self, run_dir: str) -> None:
        m = self.model
        paths = [f for f in m.files if m.label_of(f) is None]
        if self.ticket is not None:
            self.ticket.cancel()
        if not paths:
            m.set_suggestions(run_dir, [])
            return
        k = max(2, len(m.classes))
        self.ticket = self.session.requests.request(
            P.Predict(model=run_dir, paths=paths, top_k=k),
            lambda reply: self._on_predictions(run_dir, list(reply.items or [])),
            lambda err: m.events.problem.emit(err.message), busy="label_queue")

    def _on_predictions(self, run_dir: str, items: list) -> None:
        rows = []
        for item in items:
            top = item.get("top") if isinstance(item, dict) else None
            if top:
                rows.append({"path": item["path"], "label": str(top[0][0]), "confidence": float(top[0][1])})
        rows.sort(key=lambda r: r["confidence"])
        self.model.set_suggestions(run_dir, rows)
