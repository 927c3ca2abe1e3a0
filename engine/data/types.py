"""Plain data of the data layer: one Example, the scanned Dataset and its HealthReport.

Standard library only so the GUI-facing report and the run directory's `splits.json`
never need torch. `HealthReport.to_dict()` is exactly what `inspect_data` returns.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

SPLITS = ("train", "val", "test")
LIST_LIMIT = 500  # entries per list in to_dict(): keeps a report line well under 1 MiB


@dataclass(frozen=True)
class Example:
    path: str  # absolute; CSV rows are "/abs/file.csv#row=12" (spreadsheet row, header = 1)
    label: int
    split: str  # train|val|test
    sha256: str
    text: str | None = None  # CSV rows carry their text; .txt files are read with read_text
    group: str | None = None  # salted hash of the example's group key (groups.py); None = its own group


@dataclass(frozen=True)
class Finding:
    severity: str  # info|warning|error
    code: str
    message: str  # what it means
    advice: str  # what to do
    paths: tuple = ()

    def to_dict(self, limit: int = 50) -> dict:
        return {"severity": self.severity, "code": self.code, "message": self.message,
                "advice": self.advice, "count": len(self.paths), "paths": list(self.paths[:limit])}


@dataclass
class HealthReport:
    roots: list[str] = field(default_factory=list)
    modality: str | None = None
    presplit: bool = False
    classes: list[dict] = field(default_factory=list)  # {name, count, splits{train,val,test}, examples}
    imbalance_ratio: float | None = None
    skipped: list[dict] = field(default_factory=list)  # {path, reason}: unusable files, left out
    ignored: list[dict] = field(default_factory=list)  # {path, reason}: not data (hidden, stray, other type)
    duplicates: dict = field(default_factory=lambda: {"within_class": [], "across_classes": [],
                                                      "across_splits": [], "near": []})
    image: dict | None = None  # {count, width{min,median,max}, height{...}, modes{mode: n}}
    text: dict | None = None  # {files, undecodable_files, replaced_chars, length{min,median,max}, cut_texts}
    groups: dict | None = None  # health.group_summary: counts only, never a group's key
    labels: dict | None = None  # labeled.labels_block: what a labels sidecar did (None: no sidecar)
    findings: list[Finding] = field(default_factory=list)
    fatal: str | None = None
    seconds: float = 0.0

    def add(self, severity: str, code: str, message: str, advice: str, paths=()) -> None:
        self.findings.append(Finding(severity, code, message, advice, tuple(paths)))

    def to_dict(self, limit: int = LIST_LIMIT) -> dict[str, Any]:
        """JSON-able report; long lists are cut to `limit` entries (`totals` has full sizes)."""
        order = {"error": 0, "warning": 1, "info": 2}
        dups = {k: [list(g) for g in v[:limit]] for k, v in self.duplicates.items()}
        return {
            "roots": list(self.roots), "modality": self.modality, "presplit": self.presplit,
            "classes": [dict(c) for c in self.classes],
            "examples": sum(c.get("count", 0) for c in self.classes),
            "imbalance_ratio": self.imbalance_ratio,
            "skipped": self.skipped[:limit], "ignored": self.ignored[:limit], "duplicates": dups,
            "image": self.image, "text": self.text, "groups": self.groups,
            "labels": self.labels,
            "findings": [f.to_dict() for f in sorted(self.findings, key=lambda f: order.get(f.severity, 3))],
            "fatal": self.fatal,
            "totals": {"skipped": len(self.skipped), "ignored": len(self.ignored),
                       **{f"duplicates_{k}": len(v) for k, v in self.duplicates.items()}},
            "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "HealthReport":
        """Rebuild from a saved `data_report.json` (lists may have been cut by to_dict)."""
        known = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in known and k != "findings"}
        rep = cls(**kw)
        for f in d.get("findings") or []:
            rep.add(f.get("severity", "info"), f.get("code", ""), f.get("message", ""),
                    f.get("advice", ""), f.get("paths") or ())
        return rep


@dataclass
class Dataset:
    modality: str  # image|text
    classes: list[str]
    items: list[Example]
    report: HealthReport
    presplit: bool = False
    roots: list[str] = field(default_factory=list)
    group_salt: str | None = None  # the salt of Example.group (kept in the run's splits.json, never in a bundle)

    def split(self, name: str) -> list[Example]:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; use one of {', '.join(SPLITS)}")
        return [e for e in self.items if e.split == name]

    def counts(self) -> dict[str, dict[str, int]]:
        """{class name: {train, val, test}}."""
        out = {c: dict.fromkeys(SPLITS, 0) for c in self.classes}
        for e in self.items:
            out[self.classes[e.label]][e.split] += 1
        return out
