"""What the engine's auto recipe will do with the current choices (Qt-free).

The GUI never re-computes a rule: it sends the config it would start with in a
`resolve_config` request and keeps the reply here, every setting with its value,
whether Auto chose it, and why. Pages read it; `recipe_asker.RecipeAsker` fills it.
"""
from __future__ import annotations

from dataclasses import dataclass

from .events import EventGroup

# how each setting is called on screen, in the recipe's order
TITLES = {
    "freeze": "Frozen stages", "input_size": "Input size", "max_length": "Text length", "batch_size": "Batch size",
    "train_input_size": "Training crops", "epochs": "Epochs", "class_weighted": "Weight rare classes",
    "monitor": "Model chosen on", "head_warmup": "Fit the head first",
    "compare_probe": "Compare with a linear probe",
    "compare_simple": "Compare with a simple model", "finetune_blend": "Blend with the start",
    "freeze_bn_stats": "Keep BatchNorm statistics", "refit": "Train again on train + validation",
    "refit_soup": "Refits averaged", "refit_epochs": "Refit length", "lr": "Learning rate",
    "lr_stage_decay": "Per-stage rate factor", "num_workers": "Decoding processes",
}
UNITS = {"input_size": " px", "train_input_size": " px", "max_length": " tokens"}


@dataclass(frozen=True)
class RecipeRow:
    name: str
    title: str
    value: str
    auto: bool
    reason: str


def _shown(name: str, value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name == "finetune_blend":
        return "off" if value is None or float(value) >= 1 else f"{float(value):.0%} fine-tune"
    if name == "monitor":
        return str(value).removeprefix("val_").replace("_", " ")
    if isinstance(value, float):
        return f"{value:g}"
    return f"{value}{UNITS.get(name, '')}"


class RecipePreview:
    """Emits `changed` when an answer (or the reason there is none) arrives."""

    def __init__(self) -> None:
        self.events = EventGroup(changed=())
        self.clear()

    def clear(self) -> None:
        self.settings: list[dict] = []
        self.facts: dict = {}
        self.estimate: dict = {}  # {"seconds": at most, ...}, timed by the engine on this machine
        self.pending = False
        self.error = ""

    def set_reply(self, settings: list, facts: dict, estimate: dict | None = None) -> None:
        self.settings = [s for s in settings or [] if isinstance(s, dict) and s.get("name")]
        self.facts = dict(facts or {})
        self.estimate = dict(estimate or {})
        self.pending, self.error = False, ""
        self.events.changed.emit()

    def set_error(self, text: str) -> None:
        self.settings, self.facts, self.estimate, self.pending, self.error = [], {}, {}, False, text
        self.events.changed.emit()

    def _get(self, name: str) -> dict | None:
        return next((s for s in self.settings if s["name"] == name), None)

    def value(self, name: str, default=None):
        s = self._get(name)
        return default if s is None else s.get("value")

    def is_auto(self, name: str) -> bool:
        s = self._get(name)
        return bool(s and s.get("auto"))

    def reason(self, name: str) -> str:
        s = self._get(name)
        return str(s.get("reason") or "") if s else ""

    def rows(self) -> list[RecipeRow]:
        return [RecipeRow(s["name"], TITLES.get(s["name"], s["name"].replace("_", " ").capitalize()),
                          _shown(s["name"], s.get("value")), bool(s.get("auto")), str(s.get("reason") or ""))
                for s in self.settings]

    @property
    def ready(self) -> bool:
        return bool(self.settings)
