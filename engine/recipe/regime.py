"""What the auto recipe reads: plain facts about the data, the backbone and the machine.

`Facts` are gathered once (from a scanned dataset and a registry entry, or from a health
report), and `Regime` adds the few judgements every rule shares (the freezing depth, probe
or fine-tune, whether a CPU time budget caps the epochs), so that each rule in rules.py
reads one small, frozen value instead of the dataset, the spec and the device.
Standard library only: the GUI's process may import it.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict, dataclass

# On a CPU, a fine-tune on data where one epoch is a sizeable share of this budget (at least
# BUDGET_FROM_SHARE of it) passes about this many training examples through the network in all
# (rules.choose_epochs; the evidence is in RULES).
CPU_EXAMPLE_BUDGET = {"image": 5000, "text": 2000}
BUDGET_FROM_SHARE = {"image": 1 / 5, "text": 1 / 8}
# the person's time budget (RunConfig.budget): the share of that CPU budget and of the usual optimizer
# steps a run may spend; "thorough" lifts the CPU budget (the full schedule, which early stopping may end)
BUDGET_SCALE = {"quick": 0.5, "standard": 1.0, "thorough": None}


def budget(modality: str, choice: str = "standard") -> tuple[int, float]:
    """(examples passed in all, share of it from which the cap applies) on a CPU for this choice."""
    kind = modality if modality in CPU_EXAMPLE_BUDGET else "image"
    scale = BUDGET_SCALE.get(choice) or 1.0
    return int(CPU_EXAMPLE_BUDGET[kind] * scale), BUDGET_FROM_SHARE[kind]


def budget_caps(n_train: int, linear_probe: bool, device: str, modality: str, choice: str = "standard") -> bool:
    """Whether the CPU budget limits this fine-tune's epochs (a CPU, data large enough, not "thorough")."""
    if BUDGET_SCALE.get(choice, 1.0) is None:
        return False
    total, share = budget(modality, choice)
    return not linear_probe and not str(device).startswith("cuda") and n_train >= total * share


def _median(section: dict | None, *keys: str) -> list[float]:
    out = []
    for key in keys:
        v = (section or {}).get(key)
        if isinstance(v, dict) and isinstance(v.get("median"), (int, float)) and v["median"] > 0:
            out.append(float(v["median"]))
    return out


IMBALANCE = 3.0  # class_ratio from which the rare classes are weighted and selection is balanced

@dataclass(frozen=True)
class Facts:
    """Plain values about the data, the backbone and the machine; nothing here is a choice."""

    modality: str
    device: str  # "cpu", "cuda", "cuda:1", "mps"
    n_train: int
    n_val: int
    n_classes: int
    median_side: float | None  # images: the median short side in pixels
    median_chars: float | None  # texts: the median length in characters
    backbone: str
    backbone_name: str
    stages: int
    recommended_freeze: int
    native_size: int  # the backbone's own image side
    min_size: int
    max_length: int  # the backbone's own token limit
    fixed_input_size: bool
    cores: int
    n_test: int = 0
    class_ratio: float = 1.0  # training examples of the largest class / of the smallest

    @property
    def per_class(self) -> float:
        return self.n_train / max(1, self.n_classes)

    @classmethod
    def gather(cls, report: dict, spec, device: str, n_train: int, n_val: int, n_classes: int,
               modality: str, cores: int | None = None, n_test: int = 0, class_ratio: float = 1.0) -> "Facts":
        """From a health report (sizes of the images / texts), a registry entry and split sizes."""
        img = report.get("image") or report.get("images") or {}
        sides = _median(img, "width", "height")
        chars = _median(report.get("text") or {}, "length")
        pre = dict(getattr(spec, "preprocess", {}) or {})
        recommended = getattr(spec, "recommended_freeze", None)
        return cls(modality=str(modality), device=str(device), n_train=int(n_train), n_val=int(n_val),
                   n_classes=int(n_classes), median_side=min(sides) if sides else None,
                   median_chars=chars[0] if chars else None, backbone=str(spec.id),
                   backbone_name=str(getattr(spec, "display_name", spec.id)), stages=len(spec.stages),
                   recommended_freeze=int(recommended or 0),
                   native_size=int(pre.get("input_size", 224)),
                   min_size=int(getattr(spec, "min_input_size", 32) or 32),
                   max_length=int(pre.get("max_length", 128)),
                   fixed_input_size=bool(getattr(spec, "fixed_input_size", False)),
                   cores=int(cores if cores is not None else (os.cpu_count() or 1)), n_test=int(n_test),
                   class_ratio=float(class_ratio))

    @classmethod
    def of_dataset(cls, dataset, spec, device: str) -> "Facts":
        """From a scanned dataset (engine.data.scan) and a registry entry."""
        counts = Counter(getattr(e, "label", None) for e in dataset.split("train"))
        counts.pop(None, None)
        ratio = max(counts.values()) / min(counts.values()) if counts else 1.0
        return cls.gather(dataset.report.to_dict(), spec, device, n_train=len(dataset.split("train")),
                          n_val=len(dataset.split("val")), n_classes=len(dataset.classes),
                          modality=dataset.modality, n_test=len(dataset.split("test")), class_ratio=ratio)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Regime:
    """The judgements every rule shares, made once from the facts and the user's freezing depth."""

    facts: Facts
    freeze: int
    linear_probe: bool  # every stage frozen: only the head trains
    capped: bool  # on a CPU, the example budget limits this fine-tune's epochs
    budget: str = "standard"  # the person's time budget (quick / standard / thorough)

    @property
    def modality(self) -> str:
        return self.facts.modality

    @property
    def imbalanced(self) -> bool:
        """The largest class has at least IMBALANCE times the smallest's training examples."""
        return self.facts.class_ratio >= IMBALANCE

    @property
    def gpu(self) -> bool:
        return self.facts.device.startswith("cuda")

    @classmethod
    def of(cls, facts: Facts, freeze: int, budget: str = "standard") -> "Regime":
        probe = int(freeze) >= facts.stages
        return cls(facts=facts, freeze=int(freeze), linear_probe=probe, budget=budget,
                   capped=budget_caps(facts.n_train, probe, facts.device, facts.modality, budget))
