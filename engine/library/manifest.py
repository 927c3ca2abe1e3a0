"""sha256 of files and folders, and checking them against a recorded list.

Used by library entries (`entry.json` "files"), model packs (`manifest.json`) and the
audit log. Standard library only. A mismatch raises WeightsError naming the file.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from engine.errors import WeightsError

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def list_files(folder: str | os.PathLike, skip: tuple[str, ...] = ()) -> list[str]:
    """Relative POSIX paths of the regular files under `folder`, sorted; names in `skip` left out."""
    folder = Path(folder)
    out = []
    for p in folder.rglob("*"):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and not p.is_symlink() and rel not in skip and not p.name.startswith(".") \
                and not any(part.startswith(".") for part in Path(rel).parts[:-1]):
            out.append(rel)
    return sorted(out)


def hash_folder(folder: str | os.PathLike, skip: tuple[str, ...] = ()) -> dict[str, dict]:
    """{relative path: {"sha256", "bytes"}} for every file under `folder`."""
    folder = Path(folder)
    return {rel: {"sha256": sha256_file(folder / rel), "bytes": (folder / rel).stat().st_size}
            for rel in list_files(folder, skip)}


def verify_files(folder: str | os.PathLike, files: dict[str, dict], what: str = "") -> None:
    """Raise WeightsError naming the first file that is missing, resized or has another hash."""
    folder = Path(folder)
    label = f" in {what}" if what else ""
    for rel, info in sorted(files.items()):
        path = folder / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise WeightsError(f"The file list{label} names {rel!r}, which is outside its folder; the manifest is not trustworthy.")
        if not path.is_file():
            raise WeightsError(f"{rel} is missing{label}; copy the whole folder again.")
        size = path.stat().st_size
        if "bytes" in info and size != info["bytes"]:
            raise WeightsError(f"{rel}{label} has {size} bytes but its manifest says {info['bytes']}; "
                               "the copy is damaged or altered — copy it again from the source.")
        if sha256_file(path) != info.get("sha256"):
            raise WeightsError(f"{rel}{label} does not match its sha256 in the manifest; "
                               "the copy is damaged or altered — copy it again from the source.")


def check_files(folder: str | os.PathLike, files: dict[str, dict]) -> str | None:
    """Like verify_files but returns the problem sentence (None when all match)."""
    try:
        verify_files(folder, files)
    except WeightsError as exc:
        return exc.message
    return None
