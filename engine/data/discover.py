"""Finding the examples in a folder tree: which files are data, of which class and split.

Layouts: `root/<class>/...` or pre-split `root/{train,val,test}/<class>/...` (also
`valid`/`validation`/`dev`, `training`/`testing`). Files in nested folders inside a class
folder belong to that class. Hidden and system clutter (dotfiles, `.DS_Store`,
`Thumbs.db`, `__MACOSX`, `.ipynb_checkpoints`) is skipped without descending into it;
stray files beside the class folders and files of other types are ignored and listed.
A labels sidecar in the root changes which class a file is, and takes loose files in (labeled.py).
DICOM files count as images by extension or by content (the 'DICM' marker), and a
DICOMDIR is the export's index, listed as such, not an example.
A class folder that is a link is followed unless it leads back to a folder holding the data
(a loop: every file would be read twice, or forever); links to folders inside a class
folder are not followed. Both are listed, never silent.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import Cancelled, DataError
from ..file_kinds import SPLIT_ALIASES, is_hidden, kind_of_file
from .dicom import describe_dicomdir
from .tabular import TABLE_EXTS

@dataclass(frozen=True)
class Candidate:
    path: str
    class_name: str
    given_split: str | None  # from a pre-split tree; None = ours to assign
    kind: str  # image|text
    size: int


@dataclass
class RootScan:
    root: str
    presplit: bool = False
    candidates: list[Candidate] = field(default_factory=list)
    ignored: list[dict] = field(default_factory=list)
    class_dirs: dict[str, list[str]] = field(default_factory=dict)  # class -> folders it came from
    labels: object = None  # labeled.SidecarLabels when the root has a labels sidecar (it relabeled the files)


def _entries(folder: str) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as exc:
        raise DataError(f"The folder {folder} could not be opened ({exc.strerror or exc}); check that you "
                        "have permission to read it.") from None


def _is_dir(e: os.DirEntry) -> bool:
    try:
        return e.is_dir()
    except OSError:
        return False


def _hidden(path: str, is_dir: bool) -> dict:
    return {"path": path, "reason": f"hidden or system {'folder' if is_dir else 'file'} (not data)",
            "code": "hidden_files"}


def _link(path: str, why: str) -> dict:
    return {"path": path, "reason": why, "code": "folder_links"}


def _loops_back(path: str, root: str) -> bool:
    """True for a folder link whose target is `root` or holds it."""
    target, real_root = os.path.realpath(path), os.path.realpath(root)
    return real_root == target or real_root.startswith(target.rstrip(os.sep) + os.sep)


def _stray(out: RootScan, e: os.DirEntry, where: str) -> None:
    if e.name.upper() == "DICOMDIR":  # a PACS export's index usually sits at its top
        out.ignored.append({"path": e.path, "reason": describe_dicomdir(e.path), "code": "dicomdir"})
        return
    if os.path.splitext(e.name)[1].lower() in TABLE_EXTS:
        reason = f"a table beside the {where} is not read; pass the file itself to use its rows"
    else:
        reason = f"not inside a class folder (files must sit in {where}/<class>/)"
    out.ignored.append({"path": e.path, "reason": reason, "code": "stray_files"})


def _walk_class(out: RootScan, folder: str, class_name: str, split: str | None, cancel) -> None:
    out.class_dirs.setdefault(class_name, []).append(folder)
    for dirpath, dirnames, filenames in os.walk(folder, onerror=None):
        if cancel is not None and cancel.is_set():
            raise Cancelled("Scan cancelled.")
        keep = []
        for d in sorted(dirnames):
            if is_hidden(d):
                out.ignored.append(_hidden(os.path.join(dirpath, d), True))
            elif os.path.islink(os.path.join(dirpath, d)):  # os.walk would not enter it either
                out.ignored.append(_link(os.path.join(dirpath, d), "a link to a folder inside a class folder "
                                                                   "(not followed)"))
            else:
                keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if is_hidden(name):
                out.ignored.append(_hidden(path, False))
                continue
            if name.upper() == "DICOMDIR":
                out.ignored.append({"path": path, "reason": describe_dicomdir(path), "code": "dicomdir"})
                continue
            kind = kind_of_file(path)  # DICOM by content too: PACS exports often have no extension
            if kind is None:
                ext = os.path.splitext(name)[1].lower()
                why = f"unsupported file type ({ext})" if ext else "no file extension, so its type is unknown"
                out.ignored.append({"path": path, "reason": why, "code": "unsupported_files"})
                continue
            try:
                size = os.stat(path).st_size
            except OSError:
                size = -1  # reported as unreadable when checked
            out.candidates.append(Candidate(path, class_name, split, kind, size))


def _class_folders(out: RootScan, folder: str, split: str | None, cancel) -> None:
    where = folder if split else out.root
    for e in _entries(folder):
        if is_hidden(e.name):
            out.ignored.append(_hidden(e.path, _is_dir(e)))
        elif _is_dir(e) and e.is_symlink() and _loops_back(e.path, out.root):
            out.ignored.append(_link(e.path, "a link back to a folder that holds it (a loop; not followed)"))
        elif _is_dir(e):
            _walk_class(out, e.path, e.name, split, cancel)
        else:
            _stray(out, e, where)


def walk_root(root: str, cancel=None, labels: bool = True) -> RootScan:
    """List a folder tree's candidate files (nothing is opened yet); with `labels`, a labels
    sidecar in the root decides each file's class (labeled.py), else its folder does."""
    out = _walk(root, cancel)
    if labels:
        from .labeled import apply_sidecar  # labeled.py builds on this module

        out.labels = apply_sidecar(out)
    return out


def _walk(root: str, cancel) -> RootScan:
    out = RootScan(root)
    entries = _entries(root)
    dirs = [e for e in entries if _is_dir(e) and not is_hidden(e.name)]
    splits = {e.name: SPLIT_ALIASES[e.name.lower()] for e in dirs if e.name.lower() in SPLIT_ALIASES}
    others = [e.name for e in dirs if e.name not in splits]
    if "train" in splits.values() and not others:
        out.presplit = True
    elif "train" in splits.values() and len(splits) >= 2:
        raise DataError(f"The folder {root} mixes split folders ({', '.join(sorted(splits))}) with other "
                        f"folders ({', '.join(others[:5])}); put every class folder inside the split folders, "
                        "or remove the split folders and let the app split the data.")
    if not out.presplit:
        _class_folders(out, root, None, cancel)
        return out
    for e in entries:
        if e.name in splits:
            _class_folders(out, e.path, splits[e.name], cancel)
        elif is_hidden(e.name):
            out.ignored.append(_hidden(e.path, _is_dir(e)))
        else:
            _stray(out, e, root)
    return out
