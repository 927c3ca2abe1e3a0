"""Asking the engine for explanations and keeping them in the Explanations model; the pages never
call the engine. One file per request, so a map appears as soon as it is ready and a quick request
(a recipe preview) waits behind at most one map; each (file, class) is asked for once per model."""
from __future__ import annotations

from PySide6.QtCore import QObject

from engine import protocol as P

from .errors_text import plain_error
from .explain_model import DECIDED, Explanations

BUSY = "explain"


class ExplainController(QObject):
    def __init__(self, session, model: Explanations, results, parent: QObject | None = None):
        super().__init__(parent or session)
        self.session = session
        self.model = model
        self.results = results
        results.events.result.connect(lambda: model.reset(results.run_dir))

    def listen_to(self, *pages) -> None:
        """Each page has an OverlayBar (`overlay`) and says which maps it wants (`explainRequested`)."""
        for page in pages:
            page.overlay.showToggled.connect(self.model.set_show)
            page.overlay.opacityChanged.connect(self.model.set_opacity)
            page.explainRequested.connect(self.explain)
            if hasattr(page, "classChosen"):
                page.classChosen.connect(self.choose)

    def choose(self, path: str, target: int) -> None:
        """A class clicked on the Try page: its map is shown for that file (overlays turned on)."""
        self.model.choose(path, target)
        self.model.set_show(True)
        self.explain(path, target)

    def explain(self, path: str, target: int = DECIDED) -> None:
        m = self.model
        if m.model_path != self.results.run_dir:  # pages may ask before the result event reaches the reset
            m.reset(self.results.run_dir)
        if not m.wanted(path, target):
            return
        m.begin(path, target)
        model_path = m.model_path

        def arrived(reply) -> None:
            if m.model_path == model_path:  # an answer about a model no longer open is dropped
                items = list(reply.items or [])
                m.store(path, target, items[0] if items else {"error": "no answer"})

        def failed(err) -> None:
            if m.model_path == model_path:
                m.store(path, target, {"error": plain_error(err)})

        self.session.request(P.Explain(model=model_path, paths=[path], target=None if target == DECIDED else target),
                             arrived, failed, busy=BUSY)
