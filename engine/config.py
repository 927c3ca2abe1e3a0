"""Run configuration shared by the GUI, the CLI and the engine (standard library only).

A RunConfig is plain data: it is written to `runs/<name>/config.json`, sent inside the
protocol's `start` message, and validated here before any heavy import so that a bad
setting fails in one clear sentence before work begins. Fields left as None are filled
by the engine's auto recipe; the resolved config is what lands in the run directory.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .dicom_windows import WINDOWS as DICOM_WINDOWS

CONFIG_SCHEMA_VERSION = 1

AUGMENT_PRESETS = ("none", "light", "standard")
# how much training time the auto recipe may spend (engine/recipe/regime.py BUDGET_SCALE says what each means)
BUDGETS = ("quick", "standard", "thorough")
DEVICES = ("auto", "cpu", "cuda", "mps")
MONITORS = ("val_accuracy", "val_loss", "val_macro_f1", "val_balanced_accuracy")
# how long a refit trains: "best" = the epoch that won on validation, "trained" = as long as the first run
REFIT_EPOCHS = ("best", "trained")
# which examples belong together (engine/data/groups.py): "auto" = the groups CSV, else the
# file-name pattern, else (DICOM) the PatientID, for each example in that order
GROUP_BY = ("auto", "none", "patient", "pattern", "csv")
# how the report names where a group came from ("file": no source named it, its own group)
GROUP_SOURCE_WORDS = {"csv": "the groups CSV", "pattern": "the file-name pattern", "patient": "the DICOM PatientID",
                      "file": "their own file (no group found)"}


def smaller_training_crop(cfg: dict) -> int | None:
    """The side of the random training crops when they differ from the input size, else None.

    Takes a config as a dict, so a saved run's training.json reads the same way."""
    crop, size = cfg.get("train_input_size"), cfg.get("input_size")
    return int(crop) if crop and size and crop != size and cfg.get("augment") != "none" else None


class ConfigError(ValueError):
    """A setting that cannot work; the message is one sentence a person can act on."""


def _plain_name(name) -> bool:
    """A run name is one folder inside runs_root: no path ('../escape', '/abs'), nothing hidden."""
    return (isinstance(name, str) and 0 < len(name) <= 120 and name == name.strip() and not name.startswith(".")
            and not any(c in name for c in "/\\:") and all(c.isprintable() for c in name))




@dataclass
class RunConfig:
    # what to learn from
    data: list[str] = field(default_factory=list)  # one or more dataset roots / CSV files
    text_column: str | None = None  # CSV/TSV only; None = detect
    label_column: str | None = None  # CSV/TSV only; None = detect
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    dicom_window: str = "file"  # how DICOM values become 8-bit pixels (engine/dicom_windows.py)
    group_by: str = "auto"  # GROUP_BY: one patient (or object) stays on one side of the split
    groups_file: str | None = None  # a CSV of path,group rows
    group_pattern: str | None = None  # a regular expression with (?P<group>...), on the path under the data root
    # what to start from
    backbone: str = "auto"  # registry id, or "auto" (pick from the data's modality)
    weights: str | None = None  # a weights file / HF folder the user names
    freeze: int | None = None  # first k stages frozen; 0 = full fine-tune; None = auto
    # how to learn
    epochs: int | None = None
    budget: str = "standard"  # quick / standard / thorough: how long Auto lets a run train (BUDGETS)
    batch_size: int | None = None
    lr: float | None = None  # learning rate of the head; None = auto
    lr_stage_decay: float | None = None  # earlier trainable stages get lr * decay**distance; None = auto
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    label_smoothing: float = 0.0
    class_weighted: bool | None = None  # weight the loss by inverse class frequency; None = auto
    augment: str = "light"
    input_size: int | None = None  # image side in pixels; None = auto from the data
    train_input_size: int | None = None  # side of the random training crops (the model still runs at
    #   input_size); None = auto: input_size, or 7/8 of it where the CPU budget caps the epochs
    crop_pct: float | None = None  # share of the resized image the evaluation centre crop keeps (timm's
    #   crop_pct; 1 = the whole image); None = the backbone's own
    max_length: int | None = None  # text tokens; None = auto from the data
    early_stopping_patience: int | None = 3  # epochs without improvement (from half-way down the lr); None = off
    monitor: str | None = None  # what selects the epoch and the model kept; None = auto
    feature_cache: bool = True  # frozen prefix runs once per example
    head_warmup: bool | None = None  # fit the head on frozen features before fine-tuning (LP-FT); None = auto
    freeze_bn_stats: bool | None = None  # BatchNorm keeps its pretrained statistics; None = auto
    refit: bool | None = None  # then train again on train + validation (as long as refit_epochs says); None = auto
    refit_soup: int | None = None  # refits (own data order and head fit each) averaged into the model; None = auto
    refit_epochs: str | None = None  # "best" or "trained" (see REFIT_EPOCHS); None = auto
    compare_probe: bool | None = None  # also fit a linear probe on the frozen features and keep it when
    #   validation shows it better beyond chance (probe_contender.py); None = auto
    compare_simple: bool | None = None  # also fit a simple non-neural model (logistic regression on grey pixels
    #   or TF-IDF words) and keep it when validation shows it better beyond chance (classical/contender.py);
    #   None = auto
    finetune_blend: float | None = None  # saved weights = this share of the fine-tuned ones + the rest of
    #   where the fine-tune began (pretrained + fitted head; WiSE-FT); 1 = off; None = auto
    # where and how
    device: str = "auto"
    gpus: int = 1  # training processes, one per GPU (DDP through torchrun's launcher); batch_size is their sum
    num_workers: int | None = None  # DataLoader workers; None = auto
    seed: int = 0
    deterministic: bool = False
    runs_root: str = "runs"
    name: str | None = None  # run directory name; None = timestamp + backbone
    schema_version: int = CONFIG_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"Unknown setting(s) {', '.join(unknown)}: check the spelling.")
        cfg = cls(**d)
        if isinstance(cfg.data, str):
            cfg.data = [cfg.data]
        return cfg

    def grouping(self) -> dict[str, Any]:
        """The scan's grouping arguments."""
        return {"group_by": self.group_by, "groups_file": self.groups_file, "group_pattern": self.group_pattern}

    def replace(self, **changes: Any) -> "RunConfig":
        return dataclasses.replace(self, **changes)

    def validate(self) -> None:
        """Raise ConfigError for settings that are wrong whatever the data and backbone."""
        if not self.data:
            raise ConfigError("No data given: name at least one folder of labeled examples.")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise ConfigError(f"Batch size must be a whole number of at least 1, not {self.batch_size!r}.")
        if self.epochs is not None and (not isinstance(self.epochs, int) or self.epochs < 1):
            raise ConfigError(f"Epochs must be a whole number of at least 1, not {self.epochs!r}.")
        if self.freeze is not None and (not isinstance(self.freeze, int) or self.freeze < 0):
            raise ConfigError(f"Freezing depth must be 0 or more, not {self.freeze!r}.")
        if self.lr is not None and not (0 < self.lr < 10):
            raise ConfigError(f"Learning rate must be a small positive number such as 1e-3, not {self.lr!r}.")
        for name in ("val_fraction", "test_fraction"):
            v = getattr(self, name)
            if not (0 <= v < 1):
                raise ConfigError(f"{name.replace('_', ' ').capitalize()} must be between 0 and 1, not {v!r}.")
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ConfigError("Validation and test fractions together leave too little to train on; keep their sum under 0.9.")
        if not (0 <= self.label_smoothing < 1):
            raise ConfigError(f"Label smoothing must be between 0 and 1, not {self.label_smoothing!r}.")
        if self.budget not in BUDGETS:
            raise ConfigError(f"The time budget must be one of {', '.join(BUDGETS)}, not {self.budget!r}.")
        if self.dicom_window not in DICOM_WINDOWS:
            raise ConfigError(f"The DICOM window must be one of {', '.join(DICOM_WINDOWS)}, not {self.dicom_window!r}.")
        if self.group_by not in GROUP_BY:
            raise ConfigError(f"Group images by one of {', '.join(GROUP_BY)}, not {self.group_by!r}.")
        if self.group_pattern:
            import re

            try:
                named = "group" in re.compile(self.group_pattern).groupindex
            except re.error as exc:
                raise ConfigError(f"The group pattern {self.group_pattern!r} is not a valid regular expression "
                                  f"({exc}).") from None
            if not named:
                raise ConfigError(f"The group pattern {self.group_pattern!r} needs a named part (?P<group>...), "
                                  "e.g. (?P<group>patient_\\d+).")
        if self.augment not in AUGMENT_PRESETS:
            raise ConfigError(f"Augmentation must be one of {', '.join(AUGMENT_PRESETS)}, not {self.augment!r}.")
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise ConfigError(f"Device must be one of {', '.join(DEVICES)} (or cuda:N), not {self.device!r}.")
        if not isinstance(self.gpus, int) or self.gpus < 1:
            raise ConfigError(f"The number of GPUs must be a whole number of at least 1, not {self.gpus!r}.")
        if self.monitor is not None and self.monitor not in MONITORS:
            raise ConfigError(f"Early stopping can watch {', '.join(MONITORS)}, not {self.monitor!r}.")
        for name, label in (("input_size", "Input size"), ("train_input_size", "Training crop size")):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or not 16 <= v <= 1024):
                raise ConfigError(f"{label} must be between 16 and 1024 pixels, not {v!r}.")
        if self.crop_pct is not None and (isinstance(self.crop_pct, bool) or not 0.5 <= self.crop_pct <= 1):
            raise ConfigError(f"The centre crop keeps between 0.5 and 1 (the whole image) of the resized image, "
                              f"not {self.crop_pct!r}.")
        if self.early_stopping_patience is not None and self.early_stopping_patience < 1:
            raise ConfigError("Early-stopping patience must be at least 1 epoch (or off).")
        if self.finetune_blend is not None and not (0 < self.finetune_blend <= 1):
            raise ConfigError(f"The fine-tune blend must be in (0, 1] (1 = off), not {self.finetune_blend!r}.")
        if self.refit_soup is not None and (not isinstance(self.refit_soup, int) or not 1 <= self.refit_soup <= 8):
            raise ConfigError(f"The refit soup takes 1 to 8 refits (1 = a single refit), not {self.refit_soup!r}.")
        if self.refit_epochs is not None and self.refit_epochs not in REFIT_EPOCHS:
            raise ConfigError(f"A refit trains for the 'best' epoch count or as long as the first run "
                              f"('trained'), not {self.refit_epochs!r}.")
        if self.lr_stage_decay is not None and not (0 < self.lr_stage_decay <= 1):
            raise ConfigError(f"Per-stage learning-rate decay must be in (0, 1], not {self.lr_stage_decay!r}.")
        if self.name is not None and not _plain_name(self.name):
            raise ConfigError(f"A run name must be a plain folder name (no '/', '\\', ':' or leading '.'), "
                              f"not {self.name!r}; choose a name such as 'cats-v2'.")
