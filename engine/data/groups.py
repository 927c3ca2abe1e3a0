"""Which examples belong together (one patient, one object), so a split never divides them.

Why: a clinical folder holds several images per patient; split by image, the same
patient lands in training and test and every score looks better than it is.

Sources, tried for each example in this order (`GROUP_BY`; "auto" tries them all):
1. a CSV the user gives (`path,group`; paths relative to a data root, or absolute);
2. a file-name pattern, a regular expression with a named group `(?P<group>...)`,
   searched in the path relative to the data root (with '/' separators);
3. for DICOM files, the PatientID.
An example none of them names is a group of its own (exact copies are still one group,
see dedupe.py; near-identical images are joined by neardupes.py).

Keys can identify a patient, so they are held in memory only: what is written is a
salted hash (`salted`), the salt kept in the run directory's splits.json.
"""
from __future__ import annotations

import csv
import hashlib
import os
import re
import secrets

from ..config import GROUP_SOURCE_WORDS, ConfigError, RunConfig
from ..errors import DataError

SOURCES = ("csv", "pattern", "patient")  # the order sources are tried in
SOURCE_WORDS = GROUP_SOURCE_WORDS


def new_salt() -> str:
    return secrets.token_hex(16)


def salted(key: str, salt: str) -> str:
    """The written form of a group key: 'g' + 16 hex digits of sha256(salt, key)."""
    return "g" + hashlib.sha256(f"{salt}\0{key}".encode("utf-8")).hexdigest()[:16]


def compile_pattern(pattern: str | None) -> re.Pattern | None:
    """The user's pattern, refused in one sentence (RunConfig.validate's) when it cannot name a group."""
    if not pattern:
        return None
    RunConfig(data=["-"], group_pattern=pattern).validate()
    return re.compile(pattern)


def read_groups_csv(path: str | None, roots: list[str]) -> dict[str, str]:
    """{absolute path: group} from a `path,group` CSV (a header row is allowed)."""
    if not path:
        return {}
    out: dict[str, str] = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            for n, row in enumerate(csv.reader(f), 1):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) < 2:
                    raise DataError(f"Row {n} of the groups file {path} has no group; each row needs "
                                    "'path,group'.")
                name, group = row[0].strip(), row[1].strip()
                if n == 1 and name.lower() == "path" and group.lower() == "group":
                    continue
                for full in _candidates(name, roots):
                    out[full] = group
    except OSError as exc:
        raise DataError(f"The groups file {path} could not be read ({exc.strerror or exc}); check the path.") from None
    if not out:
        raise DataError(f"The groups file {path} names no files; give one 'path,group' row per file.")
    return out


def _candidates(name: str, roots: list[str]) -> list[str]:
    if os.path.isabs(name):
        return [os.path.normpath(name)]
    return [os.path.normpath(os.path.join(r, name)) for r in roots]


def _relative(path: str, roots: list[str]) -> str:
    for r in roots:
        if path.startswith(r.rstrip(os.sep) + os.sep):
            return os.path.relpath(path, r).replace(os.sep, "/")
    return path.replace(os.sep, "/")


def group_keys(examples: list[tuple[str, str | None]], roots: list[str], group_by: str = "auto",
               groups_file: str | None = None, group_pattern: str | None = None) -> dict[str, tuple[str, str]]:
    """{path: (source, key)} for each (path, PatientID or None) that a source names."""
    use = SOURCES if group_by == "auto" else (() if group_by == "none" else (group_by,))
    table = read_groups_csv(groups_file, roots) if "csv" in use else {}
    rx = compile_pattern(group_pattern) if "pattern" in use else None
    if group_by == "csv" and not groups_file:
        raise ConfigError("Grouping by CSV needs the groups file (--groups FILE with 'path,group' rows).")
    if group_by == "pattern" and rx is None:
        raise ConfigError("Grouping by file-name pattern needs the pattern (--group-pattern with (?P<group>...)).")
    out: dict[str, tuple[str, str]] = {}
    for path, patient in examples:
        for source in use:
            key = None
            if source == "csv":
                key = table.get(os.path.normpath(path))
            elif source == "pattern" and rx is not None:
                m = rx.search(_relative(path, roots))
                key = m.group("group") if m and m.group("group") else None
            elif source == "patient":
                key = patient
            if key:
                out[path] = (source, f"{source}:{key}")
                break
    return out
