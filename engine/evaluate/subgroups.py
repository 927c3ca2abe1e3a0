"""Subgroup audit: the same figures per subgroup (sex, age band, site, scanner…), the gap
between the best and the worst group, and a warning where a group is too small to judge.

Attributes come from a CSV whose first column is the file's path and whose other columns
are attributes (`path,sex,age_band,site`); a path is matched as written, relative to the
CSV's folder, or by file name when that name is unique. DICOM tags (sex, age, manufacturer,
model) can feed the same table once the DICOM reader (issue 21) provides them: see
`attributes_from_tags`. The CSV is data, never code: read with the csv module only.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..bundle.decision import calibrate, decide
from ..errors import DataError
from .operating import FIGURES, at_threshold, wilson

SMALL_GROUP = 30  # examples below which a group's figures are called too uncertain to judge
SMALL_CLASS = 10  # positives (or negatives) below which sensitivity (specificity) is called uncertain
MAX_BYTES = 50 * 1024 * 1024
DICOM_TAGS = {"PatientSex": "sex", "PatientAge": "age", "Manufacturer": "manufacturer",
              "ManufacturerModelName": "model"}


def read_attributes(path: str | Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    """(attribute names, {path as written: {attribute: value}}) from a subgroup CSV."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_BYTES:
            raise DataError(f"{p} is larger than 50 MB; a subgroup file lists one row per example.")
        text = p.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise DataError(f"{p} could not be read ({exc.strerror or exc}); check the path.") from exc
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 2 or len(rows[0]) < 2:
        raise DataError(f"{p} needs a header like 'path,sex,age_band' and one row per example.")
    header = [h.strip() for h in rows[0]]
    names = header[1:]
    table = {}
    for i, row in enumerate(rows[1:], 2):
        if not row or not row[0].strip():
            continue
        if len(row) != len(header):
            raise DataError(f"Row {i} of {p} has {len(row)} fields; the header has {len(header)}.")
        table[row[0].strip()] = {n: v.strip() for n, v in zip(names, row[1:])}
    return names, table


def attributes_from_tags(tags: dict[str, str]) -> dict[str, str]:
    """DICOM header values (keyword -> value) as subgroup attributes; age as a decade band."""
    out = {}
    for keyword, name in DICOM_TAGS.items():
        v = str(tags.get(keyword) or "").strip()
        if not v:
            continue
        if name == "age" and v[:-1].isdigit() and v.endswith("Y"):
            decade = int(v[:-1]) // 10 * 10
            v = f"{decade}-{decade + 9}"
        out[name] = v
    return out


def match(paths: list[str], table: dict[str, dict[str, str]], csv_dir: Path) -> list[dict[str, str] | None]:
    """The attribute row of each example path (None when the CSV does not list it)."""
    by_abs = {}
    for written, row in table.items():
        q = Path(written)
        by_abs[str((q if q.is_absolute() else csv_dir / q).resolve())] = row
    names: dict[str, list] = {}
    for written, row in table.items():
        names.setdefault(Path(written).name, []).append(row)
    out = []
    for p in paths:
        path = p.split("#", 1)[0]
        row = by_abs.get(str(Path(path).resolve()))
        if row is None and len(names.get(Path(path).name, [])) == 1:
            row = names[Path(path).name][0]
        out.append(row)
    return out


def _group(y, cal, classes, rule, mask) -> dict:
    yk, pk = y[mask], cal[mask]
    pos = rule.get("positive_class")
    if rule.get("threshold") is not None:
        i = classes.index(pos)
        f = at_threshold(yk == i, pk[:, i], rule["threshold"])
        n_pos, n_neg = int((yk == i).sum()), int((yk != i).sum())
    else:
        d = np.asarray([classes.index(c) for c in decide(pk, classes, rule)]) if len(yk) else np.zeros(0, int)
        k = int((d == yk).sum())
        f = {"n": int(len(yk)), "accuracy": k / len(yk) if len(yk) else None,
             "ci95": {"accuracy": wilson(k, len(yk))}, "fractions": {"accuracy": [k, int(len(yk))]}}
        n_pos = n_neg = None
    small = []
    if len(yk) < SMALL_GROUP:
        small.append(f"only {len(yk)} examples")
    if n_pos is not None and n_pos < SMALL_CLASS:
        small.append(f"only {n_pos} positive")
    if n_neg is not None and n_neg < SMALL_CLASS:
        small.append(f"only {n_neg} negative")
    return {**f, "positives": n_pos, "negatives": n_neg,
            "warning": ("too small to judge: " + ", ".join(small)) if small else None}


def attribute_table(y, calibrated, classes: list[str], rule: dict, members: dict[str, list[int]]) -> tuple[list, dict]:
    """([{value, rows, figures…, warning}], gaps) of one attribute, from calibrated probabilities.

    `members` maps each value to the rows that carry it. The gap per figure is between the
    best and the worst group among those large enough to judge (two at least). numpy only:
    the Results page calls it again when its threshold slider moves.
    """
    y, cal = np.asarray(y), np.asarray(calibrated, dtype=np.float64)
    groups = []
    for v, rows in members.items():
        mask = np.zeros(len(y), dtype=bool)
        mask[np.asarray(rows, dtype=np.int64)] = True
        groups.append({"value": v, "rows": list(rows), **_group(y, cal, classes, rule, mask)})
    gaps = {}
    for k in [k for k in FIGURES if rule.get("threshold") is not None] or ["accuracy"]:
        judged = [(g[k], g["value"]) for g in groups if g.get(k) is not None and not g["warning"]]
        if len(judged) >= 2:
            (lo, worst), (hi, best) = min(judged), max(judged)
            gaps[k] = {"gap": hi - lo, "worst": worst, "best": best}
    return groups, gaps


def audit(y, probs, paths: list[str], classes: list[str], rule: dict, csv_path: str | Path) -> dict:
    """{source, matched, unmatched, attributes: [{name, groups: [{value, rows, figures…, warning}], gaps}]}."""
    names, table = read_attributes(csv_path)
    rows = match(paths, table, Path(csv_path).resolve().parent)
    found = [r is not None for r in rows]
    if not any(found):
        raise DataError(f"None of the {len(paths)} scored files is listed in {csv_path}; its first column must "
                        "hold their paths (absolute, relative to the CSV, or unique file names).")
    cal = calibrate(np.asarray(probs, dtype=np.float64), rule.get("temperature") or 1.0)
    out = {"source": str(csv_path), "matched": int(sum(found)), "unmatched": int(len(rows) - sum(found)),
           "attributes": []}
    for name in names:
        values = sorted({r[name] for r in rows if r is not None and r.get(name)})
        members = {v: [i for i, r in enumerate(rows) if r is not None and r.get(name) == v] for v in values}
        groups, gaps = attribute_table(y, cal, classes, rule, members)
        out["attributes"].append({"name": name, "groups": groups, "gaps": gaps})
    return out
