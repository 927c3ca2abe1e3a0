"""The bundle's manifest: format name and version, and the sha256 of every file.

Verification runs before anything in a bundle is loaded, so a changed, missing or
added file is refused with a message naming it instead of producing quietly different
predictions. Only the standard library is used (the GUI may call it).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import BundleError
from ..library.manifest import sha256_file  # one definition (standard library only)

BUNDLE_FORMAT = "transfer-studio-bundle"
BUNDLE_VERSION = 1
MANIFEST = "manifest.json"
# Files no bundle may hold: they can carry pickled code.
FORBIDDEN_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npz", ".h5")
# Clutter a file manager may leave in any folder; ignored by verification.
IGNORED_NAMES = (".DS_Store", "Thumbs.db", "desktop.ini")


def bundle_files(root: str | Path) -> list[str]:
    """Relative POSIX paths of every file under root except the manifest and OS clutter."""
    root = Path(root)
    out = []
    for dirpath, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            if name in IGNORED_NAMES:
                continue
            rel = (Path(dirpath) / name).relative_to(root).as_posix()
            if rel != MANIFEST:
                out.append(rel)
    return out


def hash_files(root: str | Path) -> dict[str, str]:
    root = Path(root)
    return {rel: sha256_file(root / rel) for rel in bundle_files(root)}


def read_manifest(path: str | Path) -> dict:
    """manifest.json of a bundle folder, checked for format and version (hashes not checked)."""
    root = Path(path)
    if not root.is_dir():
        raise BundleError(f"{root} is not a model bundle: bundles are folders (name.tsbundle) saved by Transfer Studio.")
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise BundleError(f"{root} has no manifest.json, so it is not a complete Transfer Studio bundle; export the model again.")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BundleError(f"The manifest.json of {root} is damaged (not valid JSON); export the model again.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{root} is not a Transfer Studio model bundle (its manifest names another format).")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > BUNDLE_VERSION:
        raise BundleError(f"{root} was saved by a newer Transfer Studio (bundle format {version}); "
                          f"this app reads format {BUNDLE_VERSION} and older, so update the app.")
    if not isinstance(manifest.get("files"), dict) or not manifest["files"]:
        raise BundleError(f"The manifest.json of {root} lists no files; export the model again.")
    return manifest


def verify_bundle(path: str | Path) -> dict:
    """Check every file against the manifest's sha256; return the manifest or raise BundleError."""
    root = Path(path)
    manifest = read_manifest(root)
    listed = manifest["files"]
    for rel, digest in listed.items():
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts:
            raise BundleError(f"The manifest of {root} names a file outside the bundle ({rel}); do not use this bundle.")
        f = root / rel
        if not f.is_file():
            raise BundleError(f"The bundle {root} is missing {rel}; copy the whole folder again or re-export the model.")
        if sha256_file(f) != digest:
            raise BundleError(f"{rel} in the bundle {root} has changed since it was saved (its sha256 does not "
                              "match the manifest); re-export the model from its run instead of using this copy.")
    extra = [rel for rel in bundle_files(root) if rel not in listed]
    if extra:
        raise BundleError(f"{extra[0]} in the bundle {root} was not part of the saved model; "
                          "remove it (and any other added files) or re-export the model.")
    return manifest
