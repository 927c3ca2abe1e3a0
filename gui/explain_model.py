"""What the model looked at, as the app holds it (Qt-free): the engine's explanations per
(file, class), whether overlays are shown and how strongly. The Results gallery and the Try page
both read it, so the toggle and the opacity are one setting. The maps themselves are files the
engine wrote (engine/protocol_explain.py); this model keeps their paths and the word scores."""
from __future__ import annotations

import html

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


def highlight_html(text: str, words: list, limit: int = 0) -> str:
    """The text with each scored word's background tinted: warm where it spoke for the class, cool
    against, by its score's size (|score| below 0.15 left plain). `limit` > 0 cuts the text there."""
    out, pos = [], 0
    end = limit if limit > 0 else len(text)
    for word, score, start, stop in words:
        if start >= end:
            break
        out.append(html.escape(text[pos:start]))
        piece = html.escape(text[start:min(stop, end)])
        s = float(score)
        if abs(s) >= 0.15:
            rgb = "255, 140, 0" if s > 0 else "60, 130, 255"
            out.append(f"<span style='background-color: rgba({rgb}, {0.25 + 0.6 * min(1.0, abs(s)):.2f})'"
                       f" title='{s:+.2f}'>{piece}</span>")
        else:
            out.append(piece)
        pos = min(stop, end)
    out.append(html.escape(text[pos:end]))
    return "".join(out) + ("…" if end < len(text) else "")


def top_words(words: list, n: int = 3) -> list[str]:
    """The n words that spoke most for the class (positive scores only)."""
    ranked = sorted((w for w in words if float(w[1]) > 0), key=lambda w: -float(w[1]))
    return [str(w[0]) for w in ranked[:n]]
