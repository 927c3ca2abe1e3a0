"""The library on disk: one folder per backbone id, each with its files and an `entry.json`.

Layout (the registry reads the same, see engine/backbones/locate.py):
    <library>/<id>/model.safetensors        a converted state dict, or
    <library>/<id>/config.json + weights    a Hugging Face folder,
    <library>/<id>/entry.json               what it is and the sha256 of every file.
Standard library only: listing and verifying never import torch.
"""
from __future__ import annotations

import datetime as _dt
import getpass
import os
import shutil
from pathlib import Path

from engine.atomic import read_json, write_json
from engine.errors import WeightsError
from engine.library.manifest import check_files, hash_folder
from engine.library.paths import library_root

ENTRY_FILE = "entry.json"
ENTRY_FORMAT = "transfer-studio-library-entry"
ENTRY_VERSION = 1


def root_dir(root: str | os.PathLike | None = None) -> Path:
    return Path(root) if root is not None else library_root()


def entry_dir(entry_id: str, root: str | os.PathLike | None = None) -> Path:
    if not entry_id or "/" in entry_id or "\\" in entry_id or entry_id.startswith("."):
        raise WeightsError(f"{entry_id!r} is not a library entry name.")
    return root_dir(root) / entry_id


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def make_entry(folder: Path, *, entry_id: str, backbone: str, kind: str, source: dict, license: str,
               builtin: bool = False, **extra) -> dict:
    """Hash every file in `folder` and write its entry.json (call on the staging folder)."""
    entry = {
        "format": ENTRY_FORMAT, "version": ENTRY_VERSION,
        "id": entry_id, "backbone": backbone, "kind": kind,
        "source": source, "license": license or "unknown",
        "files": hash_folder(folder, skip=(ENTRY_FILE,)),
        "imported_at": now_iso(), "imported_by": user_name(), "builtin": builtin,
        **extra,
    }
    write_json(folder / ENTRY_FILE, entry)
    return entry


def read_entry(folder: Path) -> dict | None:
    """The entry.json of `folder`, or None when there is none or it is unreadable."""
    try:
        entry = read_json(folder / ENTRY_FILE)
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("format") != ENTRY_FORMAT:
        return None
    return entry


def get_entry(entry_id: str, root: str | os.PathLike | None = None) -> dict | None:
    return read_entry(entry_dir(entry_id, root))


def list_entries(root: str | os.PathLike | None = None) -> list[tuple[Path, dict | None]]:
    """(folder, entry or None) for every entry folder, sorted by name; temp folders skipped."""
    base = root_dir(root)
    if not base.is_dir():
        return []
    return [(d, read_entry(d)) for d in sorted(base.iterdir()) if d.is_dir() and not d.name.startswith(".")]


def entry_size(entry: dict) -> int:
    return sum(int(f.get("bytes", 0)) for f in entry.get("files", {}).values())


def quick_problem(folder: Path, entry: dict | None) -> str | None:
    """Cheap check (files present, sizes as recorded); None when it looks intact."""
    if entry is None:
        return f"{folder.name} has no readable {ENTRY_FILE}; remove it and import the weights again."
    for rel, info in entry.get("files", {}).items():
        p = folder / rel
        if not p.is_file():
            return f"{rel} is missing from library entry {folder.name}; import it again."
        if "bytes" in info and p.stat().st_size != info["bytes"]:
            return f"{rel} in library entry {folder.name} changed size; import it again."
    return None


def verify_entry(folder: Path, entry: dict | None) -> str | None:
    """Full check: every file's sha256. Returns the problem sentence or None."""
    problem = quick_problem(folder, entry)
    if problem is None:
        problem = check_files(folder, entry.get("files", {}))
        if problem:
            problem = f"Library entry {folder.name}: {problem}"
    return problem


def describe(folder: Path, entry: dict | None, *, verify: bool = False, display_names: dict | None = None) -> dict:
    """One row for listings (CLI, GUI)."""
    problem = verify_entry(folder, entry) if verify else quick_problem(folder, entry)
    entry = entry or {}
    source = entry.get("source") or {}
    return {
        "id": entry.get("id", folder.name),
        "backbone": entry.get("backbone", folder.name),
        "display_name": (display_names or {}).get(entry.get("backbone", folder.name), ""),
        "kind": entry.get("kind", "unknown"),
        "source": source_label(source),
        "origin": source.get("path", ""),
        "size_bytes": entry_size(entry),
        "license": entry.get("license", "unknown"),
        "imported_at": entry.get("imported_at", ""),
        "imported_by": entry.get("imported_by", ""),
        "builtin": bool(entry.get("builtin", False)),
        "files": len(entry.get("files", {})),
        "hashes_ok": (problem is None) if verify else (False if problem else None),
        "problem": problem,
        "path": str(folder),
    }


def source_label(source: dict) -> str:
    kind = source.get("type", "unknown")
    if kind == "package":
        return f"package {source.get('package', '')}".strip()
    name = source.get("name") or Path(source.get("path", "")).name
    return f"{kind.replace('_', ' ')}: {name}" if name else kind.replace("_", " ")


def remove_entry(entry_id: str, root: str | os.PathLike | None = None, *, allow_builtin: bool = False) -> dict:
    """Delete an entry folder (renamed aside first, so a crash never leaves half of one). Returns its entry."""
    folder = entry_dir(entry_id, root)
    if not folder.is_dir():
        raise WeightsError(f"{entry_id} is not in the model library ({folder.parent}).")
    entry = read_entry(folder) or {"id": entry_id, "files": {}}
    if entry.get("builtin") and not allow_builtin:
        raise WeightsError(f"{entry_id} comes with the app (from an installed package) and is restored at every "
                           "start; it cannot be removed from the library.")
    trash = folder.with_name(f".{folder.name}.removing")
    if trash.exists():
        shutil.rmtree(trash)
    os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)
    return entry
