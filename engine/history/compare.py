"""What comparing runs needs from their folders: curves, settings side by side, figures (standard library only).

Curves come from events.jsonl (every EpochEnd and step Metric the run reported, resumed
parts included: an epoch reported twice keeps its later value). Settings come from
config.json, the resolved RunConfig, so Auto shows what it chose.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

# not settings of the training: where the run lives and the format's version
NOT_COMPARED = ("runs_root", "name", "schema_version")


@dataclass
class Curves:
    """Per-epoch values (`epochs` + `epoch_values[name]`) and per-step ones (`steps` in fractional epochs)."""

    epochs: list = field(default_factory=list)
    epoch_values: dict = field(default_factory=dict)  # train_loss, val_loss, val_accuracy, ... -> [values]
    steps: list = field(default_factory=list)
    step_values: dict = field(default_factory=dict)  # loss, lr -> [values] (None where a step lacks it)

    def to_dict(self) -> dict:
        return {"epochs": self.epochs, "epoch_values": self.epoch_values, "steps": self.steps,
                "step_values": self.step_values}


def read_curves(run_dir: str | os.PathLike) -> Curves:
    by_epoch: dict[int, dict] = {}
    steps: dict[float, dict] = {}
    try:
        f = open(Path(run_dir) / "events.jsonl", "rb")
    except OSError:
        return Curves()
    with f:
        for raw in f:
            head = raw[:60]
            if b'"type":"epoch_end"' not in head and b'"type":"metric"' not in head:
                continue
            try:
                e = json.loads(raw)
            except ValueError:
                continue
            values = e.get("values") if isinstance(e.get("values"), dict) else {}
            if e.get("type") == "epoch_end" and isinstance(e.get("epoch"), int):
                by_epoch[e["epoch"]] = values
            elif e.get("type") == "metric" and isinstance(e.get("epoch"), (int, float)):
                steps[float(e["epoch"])] = values
    curves = Curves(epochs=sorted(by_epoch), steps=sorted(steps))
    for name in sorted({k for v in by_epoch.values() for k in v}):
        curves.epoch_values[name] = [_num(by_epoch[ep].get(name)) for ep in curves.epochs]
    for name in sorted({k for v in steps.values() for k in v}):
        curves.step_values[name] = [_num(steps[s].get(name)) for s in curves.steps]
    return curves


def _num(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def read_config(run_dir: str | os.PathLike) -> dict:
    try:
        cfg = json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return cfg if isinstance(cfg, dict) else {}


def settings_table(configs: list[dict]) -> list[tuple[str, list, bool]]:
    """(setting, its value in each run, whether they differ), differences first, then alphabetical."""
    names = sorted({k for c in configs for k in c if k not in NOT_COMPARED})
    rows = []
    for name in names:
        values = [c.get(name) for c in configs]
        differs = any(json.dumps(v, sort_keys=True) != json.dumps(values[0], sort_keys=True) for v in values[1:])
        rows.append((name, values, differs))
    rows.sort(key=lambda r: (not r[2], r[0]))
    return rows
