"""Which files are data, by their names alone: the one list the scan, the labeling queue and the
app's windows go by (standard library only, so the GUI imports it without Pillow).

engine/data/images.py, text.py and dicom.py keep their own copy of their extensions because a
bundle's predict.py embeds those files verbatim, with no package around them;
tests/test_boundaries.py keeps the copies equal to these.
"""
from __future__ import annotations

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
