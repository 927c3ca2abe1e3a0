"""Persistent GUI settings: one JSON file with a schema version, written atomically.

Why not QSettings: the file must be readable, diffable and never pickled, and a broken
or newer file must not stop the app from opening (it falls back to defaults).
Location: $TRANSFER_STUDIO_CONFIG_DIR if set (tests), else Qt's AppConfigLocation.
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from engine.atomic import write_text  # standard library only: one atomic write for the app and the engine

SCHEMA_VERSION = 1
FILE_NAME = "settings.json"
MAX_RECENT = 8

DEFAULTS: dict[str, Any] = {
    "schema_version": SCHEMA_VERSION,
    "recent_folders": [],  # newest first
    "recent_models": [],  # run folders and bundles opened, newest first
    "last_save_dir": "",
    "last_try_dir": "",
    "window_geometry": "",  # hex of QWidget.saveGeometry()
    "train_defaults": {},  # field -> value the user last chose (None = auto)
}


def config_dir() -> Path:
    override = os.environ.get("TRANSFER_STUDIO_CONFIG_DIR")
    if override:
        return Path(override)
    from PySide6.QtCore import QStandardPaths

    loc = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation)
    return Path(loc or Path.home() / ".config" / "transfer-studio")


def runs_dir() -> Path:
    """Where the GUI asks the engine to put run directories."""
    override = os.environ.get("TRANSFER_STUDIO_RUNS_DIR")
    if override:
        return Path(override)
    from PySide6.QtCore import QStandardPaths

    loc = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(loc or Path.home() / ".local" / "share" / "transfer-studio") / "runs"


class Settings:
    """Dict-like settings; `load()` never raises, `save()` is atomic."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else config_dir() / FILE_NAME
        self.data: dict[str, Any] = copy.deepcopy(DEFAULTS)
        self.problem: str | None = None  # why the file on disk was not used, if it wasn't

    def load(self) -> "Settings":
        self.data = copy.deepcopy(DEFAULTS)
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return self
        except (OSError, ValueError) as exc:
            self.problem = f"Settings file {self.path} could not be read ({exc}); using defaults."
            return self
        if not isinstance(raw, dict):
            self.problem = f"Settings file {self.path} is not a JSON object; using defaults."
            return self
        version = raw.get("schema_version")
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            self.problem = f"Settings file {self.path} has schema version {version!r}; using defaults."
            return self
        for key, default in DEFAULTS.items():
            value = raw.get(key, default)
            if type(value) is type(default):
                self.data[key] = value
        self.data["schema_version"] = SCHEMA_VERSION
        return self

    def save(self) -> None:
        write_text(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n")

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        json.dumps(value)  # only JSON-able values: fail here, not at save time
        self.data[key] = value

    def add_recent_folders(self, paths: list[str]) -> None:
        recent = [p for p in self.data["recent_folders"] if p not in paths]
        self.data["recent_folders"] = (list(paths) + recent)[:MAX_RECENT]
