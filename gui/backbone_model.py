"""State of the Model step (Qt-free): which backbones fit the data, and how much to freeze.

Backbone entries come from the engine's `Backbones` reply (registry specs as dicts plus
`weights_available`); stages come from `BackboneInfo`. Freezing depth k means the first k
stages keep their pretrained weights; k == number of stages is the linear probe.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.recipe import AUTO_BACKBONE  # standard library only: the engine's own default per modality

from . import format as fmt
from .events import EventGroup

MODALITY_TITLES = {"image": "Images", "text": "Text"}


@dataclass(frozen=True)
class BackboneChoice:
    id: str
    name: str
    modality: str
    params: int
    input_size: str
    license: str
    weights_available: bool
    description: str
    enabled: bool
    reason: str  # why it is disabled ("" when enabled)
    hidden: bool = False


@dataclass(frozen=True)
class StageBlock:
    name: str
    params: int
    frozen: bool
    is_head: bool = False


def _input_size(spec: dict) -> str:
    pre = spec.get("preprocess") or {}
    if "input_size" in pre:
        size = pre["input_size"]
        if isinstance(size, (list, tuple)):
            size = size[-1]
        return f"{size} px"
    if "max_length" in pre:
        return f"{pre['max_length']} tokens"
    return "–"


def missing_weights_reason(spec: dict) -> str:
    """How to fix a backbone whose weights are not on this computer, naming the file to bring."""
    w = spec.get("weights") if isinstance(spec.get("weights"), dict) else {}
    files = [str(f) for f in w.get("filenames") or []]
    repos = [str(r) for r in w.get("hf_repos") or []]
    if files:
        what = f"the file {files[0]}" + (f" (or {', '.join(files[1:])})" if files[1:] else "")
    elif repos:
        what = f"the Hugging Face folder of {repos[0]}"
    else:
        what = "its weights file"
    return (f"Its pretrained weights are not on this computer and are never downloaded. Bring in {what} "
            "on a USB stick or from another computer, then click Import… in this row (or Manage weights…) "
            "and choose it.")


def native_input_size(spec: dict | None) -> int | None:
    """The image side the backbone was trained at (its preprocess input_size), None for text."""
    size = ((spec or {}).get("preprocess") or {}).get("input_size")
    if isinstance(size, (list, tuple)):
        size = size[-1] if size else None
    return int(size) if isinstance(size, (int, float)) and size > 0 else None


class BackboneModel:
    """Emits `listed` when the list of backbones (or what fits the data) changes, `freeze` when the
    selection, its stages or the freezing depth (chosen or Auto's) change."""

    def __init__(self, show_hidden: bool = False) -> None:
        self.events = EventGroup(listed=(), freeze=())
        self.show_hidden = show_hidden
        self.specs: list[dict] = []
        self.data_modality: str | None = None
        self.selected: str | None = None
        self.stages: list[dict] = []  # body stages then head, from BackboneInfo
        self.total_params = 0
        self.recommended = 0
        self.freeze: int | None = None  # None = Auto: the engine's recipe decides
        self.auto_freeze: int | None = None  # what Auto decides for this data (the engine's resolve_config)
        self.auto_reason = ""  # and why, in the recipe's words
        self.info_for: str | None = None  # backbone id the stages belong to

    # ---------------------------------------------------------------- backbones
    def set_backbones(self, items: list) -> None:
        self.specs = [s for s in items if isinstance(s, dict) and s.get("id")]
        self.events.listed.emit()

    def set_data_modality(self, modality: str | None) -> None:
        self.data_modality = modality
        current = self.choice(self.selected) if self.selected else None
        if current is None or not current.enabled:
            self.selected = self.default_choice()
        self.events.listed.emit()

    def choices(self) -> list[BackboneChoice]:
        out = []
        for s in self.specs:
            hidden = bool(s.get("hidden"))
            if hidden and not self.show_hidden:
                continue
            modality = str(s.get("modality", ""))
            weights = bool(s.get("weights_available", True))
            reason = ""
            if self.data_modality and modality != self.data_modality:
                reason = (f"Made for {MODALITY_TITLES.get(modality, modality).lower()}; "
                          f"your data is {MODALITY_TITLES.get(self.data_modality, self.data_modality).lower()}.")
            elif not weights:
                reason = missing_weights_reason(s)
            out.append(BackboneChoice(
                id=str(s["id"]), name=str(s.get("display_name") or s["id"]), modality=modality,
                params=int(s.get("num_params") or 0), input_size=_input_size(s),
                license=str(s.get("license") or "unknown"), weights_available=weights,
                description=str(s.get("description") or ""), enabled=not reason, reason=reason,
                hidden=hidden))
        return out

    def groups(self) -> list[tuple[str, list[BackboneChoice]]]:
        """(title, choices) per modality; the data's own modality first."""
        by: dict[str, list[BackboneChoice]] = {}
        for c in self.choices():
            by.setdefault(c.modality, []).append(c)
        order = sorted(by, key=lambda m: (m != self.data_modality, m))
        return [(MODALITY_TITLES.get(m, m.capitalize()), sorted(by[m], key=lambda c: (not c.enabled, c.params)))
                for m in order]

    def spec(self, backbone_id: str | None) -> dict | None:
        return next((s for s in self.specs if s.get("id") == backbone_id), None) if backbone_id else None

    def choice(self, backbone_id: str | None) -> BackboneChoice | None:
        return next((c for c in self.choices() if c.id == backbone_id), None)

    def default_choice(self) -> str | None:
        enabled = [c for c in self.choices() if c.enabled]
        if not enabled:
            return None
        preferred = AUTO_BACKBONE.get(self.data_modality or "")
        for c in enabled:
            if c.id == preferred:
                return c.id
        visible = [c for c in enabled if not c.hidden] or enabled
        return min(visible, key=lambda c: c.params).id

    def select(self, backbone_id: str) -> bool:
        """Select an enabled backbone; returns False (and keeps the old one) otherwise."""
        c = self.choice(backbone_id)
        if c is None or not c.enabled:
            return False
        if backbone_id != self.selected:
            self.selected = backbone_id
            self.stages, self.info_for, self.auto_freeze = [], None, None
            self.events.freeze.emit()
        return True

    # ---------------------------------------------------------------- freezing
    def set_info(self, backbone: str, stages: list, total_params: int, recommended: int) -> None:
        self.info_for = backbone
        self.stages = [s for s in stages if isinstance(s, dict)]
        self.total_params = int(total_params or sum(int(s.get("params") or 0) for s in self.stages))
        self.recommended = max(0, min(int(recommended or 0), self.levels))
        self.freeze = None
        self.events.freeze.emit()

    @property
    def body(self) -> list[dict]:
        """Stages that can be frozen (the head, last, always learns)."""
        return self.stages[:-1] if self.stages else []

    @property
    def levels(self) -> int:
        return len(self.body)

    def set_freeze(self, k: int | None) -> None:
        """A depth the person chose, or None for Auto."""
        self.freeze = None if k is None else max(0, min(int(k), self.levels))
        self.events.freeze.emit()

    def set_auto_freeze(self, k: int | None, reason: str = "") -> None:
        """What the engine's recipe would freeze for this data (shown while the choice is Auto)."""
        if (k, reason) != (self.auto_freeze, self.auto_reason):
            self.auto_freeze, self.auto_reason = k, reason
            self.events.freeze.emit()

    @property
    def shown_freeze(self) -> int:
        """The depth a start would use: the person's, else Auto's (the backbone's recommendation until the
        engine has answered)."""
        if self.freeze is not None:
            return self.freeze
        auto = self.auto_freeze if self.auto_freeze is not None else self.recommended
        return max(0, min(int(auto), self.levels))

    def blocks(self) -> list[StageBlock]:
        out = [StageBlock(str(s.get("name", f"stage {i}")), int(s.get("params") or 0), i < self.shown_freeze)
               for i, s in enumerate(self.body)]
        if self.stages:
            head = self.stages[-1]
            out.append(StageBlock(str(head.get("name", "head")), int(head.get("params") or 0), False, True))
        return out

    def trainable_params(self) -> int:
        return sum(b.params for b in self.blocks() if not b.frozen)

    def explanation(self) -> str:
        n, k = self.levels, self.shown_freeze
        if not self.stages:
            return ""
        if k >= n:
            return "Only the new head learns: fastest, and best for very few examples (tens per class)."
        if k == 0:
            return ("Every layer learns: slowest and needs the most examples (hundreds per class), "
                    "but can adapt furthest to unusual data.")
        return (f"The first {k} of {n} stages keep what they learned on millions of examples; the last "
                f"{n - k} and the head adapt to yours: a balance of speed and flexibility.")

    def summary(self) -> str:
        if not self.stages:
            return ""
        trainable = self.trainable_params()
        share = trainable / self.total_params if self.total_params else 0
        return f"{fmt.count(trainable)} of {fmt.count(self.total_params)} parameters learn ({fmt.share(share)})."

    @property
    def ready(self) -> bool:
        return bool(self.selected) and self.info_for == self.selected
