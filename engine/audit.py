"""Append-only audit log of what touched models and data: imports, training, exports, deletions.

One JSON object per line in `<data dir>/audit.jsonl` (`TRANSFER_STUDIO_DATA` overrides
the data dir). Each record holds the time (UTC, ISO 8601), the OS user name, the event
and its fields — paths, sizes and sha256 hashes, never file contents. Standard library
only, so any part of the engine can call `record()` cheaply.

Events used by the app: "import" (library), "delete" (library entry removed),
"train" (a run finished), "export" (a bundle saved), "pack" (a model pack built).
"""
from __future__ import annotations

import datetime as _dt
import getpass
import json
import os
import platform
from pathlib import Path
from typing import Any, Iterable

from engine.atomic import append_jsonl
from engine.library.manifest import sha256_file
from engine.library.paths import audit_log_path

MAX_STRING = 4096  # longer strings are refused: the log holds hashes and names, not contents


def log_path() -> Path:
    return audit_log_path()


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _check(value: Any, where: str) -> None:
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"audit field {where} is raw bytes; record a hash instead of contents")
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise TypeError(f"audit field {where} is {len(value)} characters; record a hash instead of contents")
    if isinstance(value, dict):
        for k, v in value.items():
            _check(v, f"{where}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check(v, f"{where}[{i}]")


def record(event: str, **fields: Any) -> dict:
    """Append one record and return it. Values must be JSON-able metadata (no bytes)."""
    for key, value in fields.items():
        _check(value, key)
    rec = {
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds"),
        "event": str(event),
        "user": _user(),
        "host": platform.node(),
        "pid": os.getpid(),
    }
    for key, value in fields.items():
        if key in rec:
            raise TypeError(f"audit field {key!r} is reserved")
        rec[key] = value
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    _end_torn_line(path)
    append_jsonl(path, rec)
    return rec


def _end_torn_line(path: Path) -> None:
    """A crash mid-write can leave a last line without its newline; start the next record on a fresh line."""
    try:
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            last = f.read(1)
    except OSError:  # missing or empty file
        return
    if last != b"\n":
        with open(path, "a", encoding="utf-8") as f:
            f.write("\n")


def file_hashes(paths: Iterable[str | os.PathLike]) -> dict[str, str]:
    """{absolute path: sha256} for files, and for each file under a folder."""
    out: dict[str, str] = {}
    for p in paths:
        p = Path(p)
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        for q in files:
            out[str(q.resolve())] = sha256_file(q)
    return out


def read_log(path: str | os.PathLike | None = None) -> list[dict]:
    """All records, oldest first (a torn last line from a crash is skipped)."""
    path = Path(path) if path else log_path()
    if not path.exists():
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def record_train(run_dir: Path, meta: dict, stopped: str) -> None:
    """One audit record per finished run: what it read and wrote, as hashes (never contents)."""
    best = run_dir / "checkpoints" / "best" / "model.safetensors"
    weights = meta.get("weights_origin", "")
    record("train", run_dir=str(run_dir), backbone=meta["backbone"], weights=weights,
                 weights_sha256=meta.get("weights_sha256") or (  # hashed at the start; older runs: now
                     file_hashes([weights]).get(weights) if Path(weights).is_file() else None),
                 splits_sha256=file_hashes([run_dir / "splits.json"]).get(str(run_dir / "splits.json")),
                 checkpoint_sha256=file_hashes([best]).get(str(best)), stopped=stopped)
