"""Where the app keeps user data: the model library and the audit log (standard library only).

`TRANSFER_STUDIO_DATA` overrides the data folder (tests point it at a temp folder);
`TRANSFER_STUDIO_LIBRARY` overrides the library folder alone. Defaults follow each
platform's convention for per-user application data.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

APP_DIR_NAME = "transfer-studio"


def data_dir() -> Path:
    """The per-user data folder (not created here)."""
    override = os.environ.get("TRANSFER_STUDIO_DATA")
    if override:
        return Path(override).expanduser()
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = str(Path.home() / "Library" / "Application Support")
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / APP_DIR_NAME


def library_root() -> Path:
    """The model library folder: `<root>/<backbone id>/` holds one entry each."""
    override = os.environ.get("TRANSFER_STUDIO_LIBRARY")
    if override:
        return Path(override).expanduser()
    return data_dir() / "library"


def audit_log_path() -> Path:
    return data_dir() / "audit.jsonl"
