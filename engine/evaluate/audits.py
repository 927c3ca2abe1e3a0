"""A second site and a subgroup audit, kept with the run and read under its current rule.

`transfer-studio evaluate --model RUN --data FOLDER` caches the folder's probabilities in
the run's external.json; `--subgroups FILE` keeps the attribute table in subgroups.json.
`sections(run_dir, clinical)` turns both into figures under the run's decision rule, so a
new threshold updates them without running the model again; metrics.json, the model
card and the report carry what it returns.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..atomic import read_json, write_json
from .clinical import Split, split_figures
from .operating import compare
from .subgroups import audit

EXTERNAL_FILE = "external.json"
SUBGROUPS_FILE = "subgroups.json"
Z95 = 1.959963984540054


def _area_difference(internal: dict | None, external: dict | None, key: str, area: str) -> dict | None:
    """external - internal AUC (or AP), with a normal-approximation interval from the two bootstrap
    intervals (independent sets), flagged when the two intervals do not overlap."""
    if not internal or not external:
        return None
    a, b = internal[key], external[key]
    ci_a, ci_b = a.get("ci95"), b.get("ci95")
    d = b[area] - a[area]
    ci = None
    if ci_a and ci_b:
        se = math.hypot((ci_a[1] - ci_a[0]) / (2 * Z95), (ci_b[1] - ci_b[0]) / (2 * Z95))
        ci = [d - Z95 * se, d + Z95 * se]
    return {"internal": a[area], "external": b[area], "difference": d, "ci95": ci,
            "flagged": bool(ci_a and ci_b and (ci_b[1] < ci_a[0] or ci_b[0] > ci_a[1]))}


def site_section(name: str, classes: list[str], split: Split, rule: dict, internal: dict | None) -> dict:
    """A second site's figures under the rule, side by side with the internal test split's, and the drop."""
    own = split_figures(classes, split, rule) or {}
    mine = own.get("at_threshold") or own.get("overall") or {}
    theirs = (internal or {}).get("at_threshold") or (internal or {}).get("overall") or {}
    comparison = compare(theirs, mine) if theirs else {}
    comparison = {k: v for k, v in comparison.items() if v.get("external") is not None}
    for key, area in (("roc", "auc"), ("pr", "ap")):
        diff = _area_difference((internal or {}).get("curves"), own.get("curves"), key, area)
        if diff is not None:
            comparison[f"{key}_{area}"] = diff
    return {"name": name, "n": own.get("n", 0), "figures": own, "comparison": comparison,
            "flagged": sorted(k for k, v in comparison.items() if v.get("flagged"))}


def remember_site(run_dir: str | Path, name: str, data: list[str], classes: list[str], split: Split) -> None:
    """Cache a scored folder's probabilities in the run (replacing an earlier one of the same name)."""
    path = Path(run_dir) / EXTERNAL_FILE
    sites = read_json(path).get("sites", []) if path.is_file() else []
    sites = [s for s in sites if s.get("name") != name]
    sites.append({"name": name, "data": list(data), "classes": list(classes), "labels": split.y.tolist(),
                  "probs": split.probs.tolist(), "paths": split.paths})
    write_json(path, {"format": "transfer-studio-external", "version": 1, "sites": sites})


def remember_subgroups(run_dir: str | Path, csv_path: str | Path) -> None:
    write_json(Path(run_dir) / SUBGROUPS_FILE, {"format": "transfer-studio-subgroups", "version": 1,
                                                "csv": str(Path(csv_path).resolve())})


def sections(run_dir: str | Path, clinical: dict, test: Split | None, classes: list[str]) -> dict:
    """{"external": [site_section…], "subgroups": audit | None} under clinical["decision"]."""
    run_dir = Path(run_dir)
    rule = clinical["decision"]
    out: dict = {"external": [], "subgroups": None}
    path = run_dir / EXTERNAL_FILE
    for site in (read_json(path).get("sites", []) if path.is_file() else []):
        if site.get("classes") != classes:
            continue
        split = Split.of(site["labels"], np.asarray(site["probs"]).reshape(-1, len(classes)), site.get("paths"))
        out["external"].append({**site_section(site["name"], classes, split, rule, clinical.get("test")),
                                "data": site.get("data")})
    path = run_dir / SUBGROUPS_FILE
    if path.is_file() and test is not None and len(test.y):
        csv_path = read_json(path).get("csv")
        if csv_path and Path(csv_path).is_file():
            out["subgroups"] = {**audit(test.y, test.probs, test.paths, classes, rule, csv_path), "split": "test"}
    return out

