"""A walked folder tree read with its labels sidecar (engine/labels/sidecar.py): the sidecar wins.

Without a sidecar a tree is what discover.py found: a file's class is its folder. With one
(labels given in the app or by `transfer-studio label apply`), every data file in the tree
is a candidate, files beside the class folders too (a flat folder being labeled is the usual
case), and its class is the sidecar's row if it has one, else its folder's (sidecar.folder_label,
the one rule, applied below the split folder in a pre-split tree). Files with neither are
unlabeled and left out; files the sidecar excludes are left out; both are counted and listed.
A row whose file changed since it was labeled (its sha256 differs) still counts but is named
(`stale`, filled in by scan.py once the files are hashed), so a person can look again.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..file_kinds import kind_of_file
from ..labels.sidecar import EXCLUDED, SIDECAR_NAMES, LabelStore, folder_label, has_sidecar, relative
from .discover import Candidate, RootScan, walk_root

LIST_LIMIT = 500  # paths per list in to_dict (the counts are always whole)


@dataclass
class SidecarLabels:
    """What one root's sidecar did to its tree; counts for the Data page, lists for the findings."""

    sidecar: str  # the CSV's path
    sha256: str  # of the CSV as read ("" when it has no rows yet): which labels a run learned from
    from_sidecar: int = 0  # candidates whose class is a sidecar row's
    conflicts: list[dict] = field(default_factory=list)  # {path, folder, label}: the row differs from the folder
    excluded: list[str] = field(default_factory=list)
    unlabeled: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # rows (relative paths) whose file is no longer there
    stale: list[str] = field(default_factory=list)  # labeled files whose content changed since
    expected: dict[str, str] = field(default_factory=dict)  # absolute path -> sha256 when labeled

    def to_dict(self, limit: int = LIST_LIMIT) -> dict:
        return {"sidecar": self.sidecar, "sha256": self.sha256, "from_sidecar": self.from_sidecar,
                "overridden": len(self.conflicts), "excluded": len(self.excluded),
                "unlabeled": len(self.unlabeled), "missing": len(self.missing), "stale": len(self.stale),
                "conflicts": self.conflicts[:limit],
                "paths": {"excluded": self.excluded[:limit], "unlabeled": self.unlabeled[:limit],
                          "missing": self.missing[:limit], "stale": self.stale[:limit]}}


def _sha256(path: str) -> str:
    from ..library.manifest import sha256_file

    try:
        return sha256_file(path)
    except OSError:
        return ""


def _below_split(rel: str, presplit: bool) -> str:
    """The path a folder label is read from: below the split folder in a pre-split tree."""
    return rel.split("/", 1)[1] if presplit and "/" in rel else rel


def _loose_files(out: RootScan, store_folder: str | None) -> list[Candidate]:
    """Take the data files beside the class folders (and the sidecar's own files) out of `ignored`."""
    keep, loose = [], []
    root = out.root.rstrip(os.sep)
    for i in out.ignored:
        path = i["path"]
        name, folder = os.path.basename(path), os.path.dirname(path)
        if name in SIDECAR_NAMES and store_folder and os.path.abspath(folder) == os.path.abspath(store_folder):
            continue  # the labels themselves, not stray data
        if i.get("code") == "stray_files" and not out.presplit and folder == root:
            kind = kind_of_file(path)
            if kind is not None:
                loose.append(Candidate(path, "", None, kind, _size(path)))
                continue
        keep.append(i)
    out.ignored = keep
    return loose


def _sides(c: Candidate, rel: str, store: LabelStore, presplit: bool):
    """(the sidecar's row or None, the folder's label or None) of one file: the one rule."""
    folder = folder_label(_below_split(rel, presplit), store.project) if c.class_name else None
    return store.rows.get(rel), folder


def data_files(root: str, cancel=None) -> list[tuple[Candidate, str | None]]:
    """Every data file in a tree, class folders or loose, with the label that counts (a class,
    EXCLUDED, or None = unlabeled): what `label suggest` ranks."""
    out = walk_root(root, cancel, labels=False)
    store = LabelStore(root)
    files = []
    for c in sorted(out.candidates + _loose_files(out, str(store.folder)), key=lambda c: c.path):
        row, folder = _sides(c, relative(root, c.path), store, out.presplit)
        files.append((c, row.label if row else folder))
    return files


def apply_sidecar(out: RootScan) -> SidecarLabels | None:
    """Relabel `out` by its root's sidecar, as the module docstring says; None (unchanged) without one."""
    root = out.root
    if not has_sidecar(root):
        return None
    store = LabelStore(root)
    labels = SidecarLabels(str(store.csv_path), _sha256(str(store.csv_path)) if store.rows else "")
    loose = _loose_files(out, str(store.folder))
    seen: set[str] = set()
    kept: list[Candidate] = []
    by_folder: set[str] = set()  # classes some file still has from its folder
    by_row: set[str] = set()  # classes some file has from a sidecar row
    for c in out.candidates + loose:
        rel = relative(root, c.path)
        seen.add(rel)
        row, folder = _sides(c, rel, store, out.presplit)
        if row and row.label == EXCLUDED:
            labels.excluded.append(c.path)
            if row.sha256 and _sha256(c.path) not in ("", row.sha256):
                labels.stale.append(c.path)
            continue
        label = row.label if row else folder
        if label is None:
            labels.unlabeled.append(c.path)
            continue
        if row:
            labels.from_sidecar += 1
            labels.expected[c.path] = row.sha256
            by_row.add(label)
            if folder is not None and folder != row.label:
                labels.conflicts.append({"path": c.path, "folder": folder, "label": row.label})
        else:
            by_folder.add(label)
        kept.append(Candidate(c.path, label, c.given_split, c.kind, c.size))
    labels.missing = sorted(rel for rel in store.rows if rel not in seen)
    out.candidates = kept
    out.class_dirs = {cls: (out.class_dirs.get(cls, []) if cls in by_folder else [])
                      + ([labels.sidecar] if cls in by_row else []) for cls in sorted(by_folder | by_row)}
    return labels


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


def mark_stale(sidecars: list[SidecarLabels], digests: dict[str, str]) -> None:
    """Name the labeled files whose content is not what was labeled (digests: path -> sha256 now)."""
    for lab in sidecars:
        lab.stale += [p for p, want in lab.expected.items() if want and digests.get(p, want) != want]


def labels_block(sidecars: list[SidecarLabels]) -> dict | None:
    """The report's `labels` block: one root's sidecar as is; several summed, each under `sidecars`."""
    if not sidecars:
        return None
    if len(sidecars) == 1:
        return {**sidecars[0].to_dict(), "sidecars": [{"path": sidecars[0].sidecar, "sha256": sidecars[0].sha256}]}
    parts = [lab.to_dict() for lab in sidecars]
    out = {k: sum(p[k] for p in parts) for k in ("from_sidecar", "overridden", "excluded", "unlabeled",
                                                  "missing", "stale")}
    out["conflicts"] = [c for p in parts for c in p["conflicts"]][:LIST_LIMIT]
    out["paths"] = {k: [x for p in parts for x in p["paths"][k]][:LIST_LIMIT] for k in parts[0]["paths"]}
    out["sidecar"], out["sha256"] = parts[0]["sidecar"], parts[0]["sha256"]
    out["sidecars"] = [{"path": p["sidecar"], "sha256": p["sha256"]} for p in parts]
    return out


def labels_meta(dataset) -> dict:
    """A run's `labels.json`: how many labeled examples it learned from and which sidecar version,
    so test accuracy can be drawn against the number of labels across runs (history/summary.py)."""
    lab = dataset.report.labels or {}
    return {"format": "transfer-studio-run-labels", "version": 1, "examples": len(dataset.items),
            "train": sum(e.split == "train" for e in dataset.items),
            "from_sidecar": lab.get("from_sidecar", 0),
            "sidecars": lab.get("sidecars", []), "sidecar_sha256": lab.get("sha256") or None}
