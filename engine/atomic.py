"""Crash-safe file writes: temp file in the same folder, fsync, os.replace.

A reader (or a resumed run) therefore sees either the old file or the new one, never
half of one. Folders (checkpoints, bundles) are written under a temp name and renamed;
a folder cannot be swapped in one rename, so `recover_dir` finishes (or undoes) a swap a
crash interrupted. Temp names carry the writer's process id, so `remove_stale_temps` can
tell a dead writer's leftovers from a live one's work.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

# ".<name>.<pid>-<random>.tmp"; older versions wrote ".<name>.<random>.tmp" (no pid)
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?:(?P<pid>\d+)-)?[a-z0-9_]{8}\.tmp$")


def _temp_prefix(name: str) -> str:
    return f".{name}.{os.getpid()}-"


def _writer_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: it exists
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except OSError:
            pass


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path.name), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False, default=str) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _siblings(final: Path) -> tuple[Path, Path]:
    """(complete new copy waiting to be swapped in, previous copy being swapped out)."""
    return final.with_name(f".{final.name}.new"), final.with_name(f".{final.name}.old")


@contextmanager
def atomic_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp folder beside `final`; on success it replaces `final` whole.

    On any exception the temp folder is removed and `final` is left as it was. The swap
    is three renames: temp -> .new (complete from here on), final -> .old, .new -> final;
    `recover_dir` brings a folder a crash left between any two of them back to one state.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    ready, old = _siblings(final)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(final.name), suffix=".tmp", dir=final.parent))
    try:
        yield tmp
        for p in tmp.rglob("*"):
            if p.is_file():
                with open(p, "rb") as f:
                    os.fsync(f.fileno())
        _fsync_dir(tmp)
        if ready.exists():
            shutil.rmtree(ready)  # a crashed writer's: this one is newer
        os.replace(tmp, ready)
        if final.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(final, old)
        os.replace(ready, final)
        _fsync_dir(final.parent)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if not final.exists() and old.is_dir():
            os.replace(old, final)
        shutil.rmtree(ready, ignore_errors=True)
        raise


def recover_dir(final: str | os.PathLike) -> None:
    """Leave `final` whole after a crash inside `atomic_dir` (the caller is its only writer).

    Where a crash can stop the swap, and what wins:
    writing the temp folder: final + a partial temp folder -> final;
    after temp -> .new: final + .new -> .new (complete, and newer);
    after final -> .old: .old + .new -> .new;
    after .new -> final: final + a half-removed .old -> final.
    Versions before the .new step renamed the temp folder straight into place, so there a
    lone .old (final missing) is the last complete copy and is put back. Every temp folder
    of `final` is then removed.
    """
    final = Path(final)
    ready, old = _siblings(final)
    if ready.is_dir():
        if final.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(final, old)
        os.replace(ready, final)
    elif not final.exists() and old.is_dir():
        os.replace(old, final)
    shutil.rmtree(old, ignore_errors=True)
    for entry in _temps(final.parent):
        if entry[1] == final.name:
            _remove(entry[0])
    _fsync_dir(final.parent)


def _temps(folder: Path) -> list[tuple[Path, str, int | None]]:
    """(path, name it was for, writer's pid or None) of every temp entry directly in `folder`."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    out = []
    for n in names:
        m = _TEMP.match(n)
        if m:
            out.append((folder / n, m["name"], int(m["pid"]) if m["pid"] else None))
    return out


def recover_tree(root: str | os.PathLike, depth: int = 2) -> None:
    """`recover_dir` for every folder swap a crash interrupted under `root` (down `depth` levels),
    and every temp file a crash left; only for a tree no other process is writing."""
    root = Path(root)
    finals = {root / p.name[1:-4] for p in root.glob(".*.new")} | {root / p.name[1:-4] for p in root.glob(".*.old")}
    finals |= {root / name for path, name, _ in _temps(root) if path.is_dir()}
    for final in sorted(finals):
        recover_dir(final)
    for path, _, _ in _temps(root):  # temp files of write_bytes
        _remove(path)
    if depth > 0:
        for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            recover_tree(sub, depth - 1)


def remove_stale_temps(root: str | os.PathLike, depth: int = 2) -> int:
    """Remove temp files and folders under `root` whose writer process has ended; returns how many.

    Safe while other runs write beside them: a temp entry is removed only when the process
    named in it is gone (entries of older versions, with no pid, are left to `recover_tree`)."""
    root = Path(root)
    removed = 0
    for path, _, pid in _temps(root):
        if pid is not None and not _writer_alive(pid):
            _remove(path)
            removed += 1
    if depth > 0:
        try:
            subs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            subs = []
        for sub in subs:
            removed += remove_stale_temps(sub, depth - 1)
    return removed


def append_jsonl(path: str | os.PathLike, obj: Any) -> None:
    """Append one JSON line and flush it to disk (event logs, audit logs)."""
    line = json.dumps(obj, separators=(",", ":"), allow_nan=False, default=str) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
