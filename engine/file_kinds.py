"""Which files are data, by their names alone: the one list the scan, the labeling queue and the
app's windows go by (standard library only, so the GUI imports it without Pillow).

engine/data/images.py, text.py and dicom.py keep their own copy of their extensions because a
bundle's predict.py embeds those files verbatim, with no package around them;
tests/test_boundaries.py keeps the copies equal to these.
"""
from __future__ import annotations

import os

IMAGE_EXTS = frozenset({".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                        ".ppm", ".pgm", ".pbm"})
DICOM_EXTS = frozenset({".dcm", ".dicom", ".dic"})
TEXT_EXTS = frozenset({".txt", ".text"})
TABLE_EXTS = frozenset({".csv", ".tsv", ".tab", ".jsonl"})
SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                 "dev": "val", "test": "test", "testing": "test"}
SYSTEM_NAMES = frozenset({"__macosx", "thumbs.db", "desktop.ini", "$recycle.bin", "system volume information",
                          "@eadir", "__pycache__", "ehthumbs.db"})


def is_hidden(name: str) -> bool:
    """Dotfiles, Office lock files and system clutter: never data, never descended into."""
    return name.startswith(".") or name.lower() in SYSTEM_NAMES or name.startswith("~$")


def kind_of(name: str) -> str | None:
    """'image' (DICOM included) or 'text' by a file's extension; None when the name does not say."""
    ext = os.path.splitext(name)[1].lower()
    if ext in IMAGE_EXTS or ext in DICOM_EXTS:
        return "image"
    if ext in TEXT_EXTS:
        return "text"
    return None


def has_dicom_marker(path) -> bool:
    """A DICOM file by content: 'DICM' after the 128-byte preamble. PACS exports often have no extension.
    (engine/data/dicom.py keeps its own copy for predict.py; tests/test_boundaries.py keeps them agreeing.)"""
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError:
        return False
    return len(head) >= 132 and head[128:132] == b"DICM"


def kind_of_file(path) -> str | None:
    """kind_of by name; a file whose name does not say and that holds the DICOM marker is an image."""
    return kind_of(os.fspath(path)) or ("image" if has_dicom_marker(path) else None)
