"""Text examples from a table: CSV, TSV or JSON Lines with a text and a label column.

Columns are found by name (text/sentence/review..., label/class/category...) unless the
caller names them; when they cannot be told apart the error lists the columns present.
Each row becomes an example whose path is "<file>#row=N", N counted like a spreadsheet
(header is row 1, first data row is row 2; for JSON Lines N is the line number).
A row with more fields than the header (an unquoted comma inside the text) or fewer is
listed and skipped, never guessed at: its tail could name a real class. A column taken
only because it is the other of two is named in `guessed`, for the health report.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from ..file_kinds import TABLE_EXTS  # noqa: F401 - the scan imports it from here
from .text import READ_BYTES, REPLACEMENT, clean_text, decode_text

TEXT_NAMES = ("text", "texts", "sentence", "sentences", "review", "reviews", "content", "body", "message",
              "comment", "document", "doc", "tweet", "utterance", "description", "question", "input",
              "title", "abstract")
LABEL_NAMES = ("label", "labels", "class", "class_name", "classname", "category", "categories", "target",
               "sentiment", "topic", "intent", "tag", "label_name", "y", "output")
DELIMITERS = (",", "\t", ";", "|")


@dataclass
class TableRows:
    path: str
    text_column: str
    label_column: str
    rows: list[tuple[str, str, str, int]] = field(default_factory=list)  # (row path, label, text, replaced)
    skipped: list[dict] = field(default_factory=list)  # {path, reason, code}
    guessed: list[str] = field(default_factory=list)  # "text" / "label": chosen as the other of two columns
    cut: list[str] = field(default_factory=list)  # row paths of texts longer than any model reads


def _norm(name: str) -> str:
    return str(name).strip().lower().replace(" ", "_").replace("-", "_")


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str, path: str) -> str | None:
    if wanted is not None:
        for c in columns:
            if c == wanted or _norm(c) == _norm(wanted):
                return c
        raise DataError(f"The table {path} has no column named {wanted!r} for the {what} "
                        f"(its columns are: {', '.join(map(str, columns))}); give one of those instead.")
    by_norm = {_norm(c): c for c in columns}
    for name in candidates:
        if name in by_norm:
            return by_norm[name]
    return None


def choose_columns(columns: list[str], path: str, text_column: str | None,
                   label_column: str | None, guessed: list[str] | None = None) -> tuple[str, str]:
    """(text column, label column): named, detected by name, or the other of exactly two
    (then "text" or "label" is appended to `guessed`)."""
    text = _pick(columns, text_column, TEXT_NAMES, "text", path)
    label = _pick(columns, label_column, LABEL_NAMES, "label", path)
    if len(columns) == 2:  # one known, the other is whatever is left
        if text and not label:
            label = next(c for c in columns if c != text)
            if guessed is not None:
                guessed.append("label")
        elif label and not text:
            text = next(c for c in columns if c != label)
            if guessed is not None:
                guessed.append("text")
    if not text or not label or text == label:
        raise DataError(f"Could not tell which columns of {path} hold the text and the label "
                        f"(columns: {', '.join(map(str, columns)) or 'none'}); name them with "
                        "--text-column and --label-column (or rename them to 'text' and 'label').")
    return text, label


def _delimiter(path: Path, header_line: str) -> str:
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


NOT_JSON = ("not a JSON object", "bad_row")


def _fields_problem(n_fields: int, n_columns: int, delimiter: str) -> tuple[str, str]:
    sep = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "bar"}.get(delimiter, repr(delimiter))
    if n_fields > n_columns:
        why = f"{n_fields} fields where the header has {n_columns} (an unquoted {sep} inside the text?)"
    else:
        why = f"{n_fields} field{'s' if n_fields != 1 else ''} where the header has {n_columns}"
    return why, "wrong_fields"


def _records(path: Path, content: str):
    """The column names and (row number, {column: value} or (reason, code)) pairs."""
    if path.suffix.lower() == ".jsonl":
        columns: list[str] = []
        records = []
        for n, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                records.append((n, NOT_JSON))
                continue
            if isinstance(obj, dict):
                columns.extend(k for k in obj if k not in columns)
                records.append((n, obj))
            else:
                records.append((n, NOT_JSON))
        return columns, records
    first = content.split("\n", 1)[0]
    delimiter = _delimiter(path, first)
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return [], []
    columns = [h.strip() for h in header]
    while columns and not columns[-1]:
        columns.pop()  # a trailing separator on the header line names no column
    records = []
    for n, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        while len(row) > len(columns) and not row[-1].strip():
            row = row[:-1]  # trailing separators add empty fields, not data
        if len(row) != len(columns):
            records.append((n, _fields_problem(len(row), len(columns), delimiter)))
            continue
        records.append((n, dict(zip(columns, row))))
    return columns, records


def read_table(path: str | Path, text_column: str | None = None, label_column: str | None = None) -> TableRows:
    """All rows of one table; rows without text or label are skipped with a reason."""
    path = Path(os.path.abspath(path))
    limit = csv.field_size_limit()
    if limit < (1 << 26):
        csv.field_size_limit(1 << 26)  # long documents in one cell are normal
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"The table {path} could not be read ({exc.strerror or exc}); check that it is "
                        "a readable file.") from None
    content, _ = decode_text(raw)
    columns, records = _records(path, content)
    if not columns:
        raise DataError(f"The table {path} has no header row or no rows; put the column names on the "
                        "first line and one example per line after it.")
    guessed: list[str] = []
    text_col, label_col = choose_columns(columns, str(path), text_column, label_column, guessed)
    out = TableRows(str(path), text_col, label_col, guessed=guessed)
    for n, rec in records:
        row_path = f"{path}#row={n}"
        if isinstance(rec, tuple):
            out.skipped.append({"path": row_path, "reason": rec[0], "code": rec[1]})
            continue
        label = rec.get(label_col)
        label = "" if label is None else str(label).strip()
        value = rec.get(text_col)
        value = "" if value is None else str(value)
        text = clean_text(value)
        if len(value) > READ_BYTES and len(value.strip()) > READ_BYTES:
            out.cut.append(row_path)
        if not label:
            out.skipped.append({"path": row_path, "reason": "no label in this row", "code": "no_label"})
        elif not text:
            out.skipped.append({"path": row_path, "reason": "empty text", "code": "empty_text"})
        else:
            out.rows.append((row_path, label, text, text.count(REPLACEMENT)))
    return out
