"""The auto recipe: every setting a person left as None, chosen from the data and the backbone.

One home for the recipe, standard library only, so that the engine (training), the CLI
(`transfer-studio recipe`, the help of `train`) and the GUI (through the engine's
`resolve_config` request) all read the same rules. `resolve` builds the `Regime` once and
runs the rules of `RULES` in order; it returns the filled config and one `Setting` per
rule with its value, whether Auto chose it, and the reason in words.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from ..config import ConfigError, RunConfig
from .regime import BUDGET_SCALE, CPU_EXAMPLE_BUDGET, Facts, Regime, budget_caps
from .rules import REFIT_BELOW_PER_CLASS, RULES, RULES_BY_SETTING, Chosen, Rule, choose_freeze

# the backbone "auto" picks for each kind of data
AUTO_BACKBONE = {"image": "efficientnet_lite0", "text": "minilm_l6"}


def choose_backbone(modality: str) -> str:
    from ..errors import BackboneError

    try:
        return AUTO_BACKBONE[modality]
    except KeyError:
        raise BackboneError(f"No default backbone for {modality} data yet; choose one with --backbone.")


@dataclass(frozen=True)
class Setting:
    """One resolved setting: its value, whether the recipe chose it (auto), and why."""

    name: str
    value: Any
    auto: bool
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def _check_fixed_size(f: Facts, size: int, train_size: int) -> None:
    if f.fixed_input_size and (size != f.native_size or train_size != f.native_size):
        raise ConfigError(f"{f.backbone_name} takes images of exactly {f.native_size} px; leave the input and "
                          f"training crop sizes on auto (or set them to {f.native_size}).")


def resolve(config: RunConfig, facts: Facts) -> tuple[RunConfig, list[Setting]]:
    """A copy of `config` with every None the recipe covers filled in, and every rule's setting and reason."""
    chosen = Chosen(config.to_dict())
    settings: list[Setting] = []
    if config.freeze is None:
        freeze, why = choose_freeze(facts)
        chosen.set("freeze", freeze)
        settings.append(Setting("freeze", freeze, True, why))
    else:
        settings.append(Setting("freeze", config.freeze, False, "your choice"))
    regime = Regime.of(facts, chosen["freeze"], config.budget)
    for rule in RULES[1:]:
        if rule.modality is not None and rule.modality != facts.modality:
            continue
        given = chosen[rule.setting]
        if given is None:
            value, why = rule.choose(regime, chosen)
            chosen.set(rule.setting, value)
            settings.append(Setting(rule.setting, value, True, why))
        else:
            settings.append(Setting(rule.setting, given, False, "your choice"))
        if rule.setting == "train_input_size":
            _check_fixed_size(facts, int(chosen["input_size"]), int(chosen["train_input_size"]))
    values = {s.name: s.value for s in settings}
    if config.name is None:
        values["name"] = time.strftime("%Y%m%d-%H%M%S") + f"-{facts.backbone}"
    return config.replace(**values), settings


__all__ = ["AUTO_BACKBONE", "BUDGET_SCALE", "CPU_EXAMPLE_BUDGET", "REFIT_BELOW_PER_CLASS", "RULES", "RULES_BY_SETTING", "Facts",
           "Regime", "Rule", "Setting", "budget_caps", "choose_backbone", "resolve"]
