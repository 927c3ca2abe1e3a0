"""What the model looked at, as the app holds it (Qt-free): the engine's explanations per
(file, class), whether overlays are shown and how strongly. The Results gallery and the Try page
both read it, so the toggle and the opacity are one setting. The maps themselves are files the
engine wrote (engine/protocol_explain.py); this model keeps their paths and the word scores."""
from __future__ import annotations

from engine.explain.words import highlight_html, top_words  # noqa: F401 - the pages' word highlighting

from .events import EventGroup

DECIDED = -1  # "the class the model decided on" (Explain.target None)


class Explanations:
    """Events: `settings()` shown or opacity changed, `arrived(path)` an explanation or its error came,
    `cleared()` another model was opened (every map belongs to one model)."""

    def __init__(self) -> None:
        self.events = EventGroup(settings=(), arrived=("path",), cleared=())
        self.model_path: str | None = None
        self.show = False
        self.opacity = 0.5
        self.items: dict[tuple[str, int], dict] = {}
        self.pending: set[tuple[str, int]] = set()
        self.chosen: dict[str, int] = {}  # Try page: the class picked per file (DECIDED until one is clicked)

    def reset(self, model_path: str | None) -> None:
        self.model_path = model_path
        self.items, self.pending, self.chosen = {}, set(), {}
        self.events.cleared.emit()

    def set_show(self, on: bool) -> None:
        if bool(on) != self.show:
            self.show = bool(on)
            self.events.settings.emit()

    def set_opacity(self, value: float) -> None:
        value = min(1.0, max(0.0, float(value)))
        if abs(value - self.opacity) > 1e-6:
            self.opacity = value
            self.events.settings.emit()

    def wanted(self, path: str, target: int = DECIDED) -> bool:
        """Should this be asked for: overlays on, a model open, not already here or on its way."""
        key = (path, int(target))
        return self.show and bool(self.model_path) and key not in self.items and key not in self.pending

    def begin(self, path: str, target: int = DECIDED) -> None:
        self.pending.add((path, int(target)))

    def store(self, path: str, target: int, item: dict) -> None:
        """The engine's answer (or {"error": ...}); an answer for the decided class also fills its index."""
        self.pending.discard((path, int(target)))
        self.items[(path, int(target))] = dict(item)
        if int(target) == DECIDED and isinstance(item.get("target"), int):
            self.items.setdefault((path, item["target"]), dict(item))
        self.events.arrived.emit(path)

    def choose(self, path: str, target: int) -> None:
        self.chosen[path] = int(target)
        self.events.arrived.emit(path)

    def get(self, path: str, target: int | None = None) -> dict | None:
        """The explanation shown for `path`: of `target`, else of the class chosen on the Try page."""
        t = self.chosen.get(path, DECIDED) if target is None else int(target)
        return self.items.get((path, t))
