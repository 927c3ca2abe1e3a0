"""What a person may change about a run: its shown name, a note, and deleting it (standard library only).

The folder name never changes: bundles, audit records, log lines and a resumed run's
messages all name the folder, so a rename is a display name stored beside the run, in
`notes.json`, written atomically. Delete removes the folder only when it is a run folder
(config.json and model.json) directly inside the runs folder it was listed from.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..atomic import write_json
from .summary import NOTES, is_run_dir, read_notes

MAX_NAME = 120
MAX_NOTE = 10_000


class RunsError(ValueError):
    """A change to a run folder that cannot be made; the message is one sentence."""


def _check_run(run_dir: str | os.PathLike) -> Path:
    p = Path(run_dir)
    if not is_run_dir(p):
        raise RunsError(f"{p} is not a run folder (it has no config.json and model.json); choose a run "
                        "from the runs folder.")
    return p


def set_notes(run_dir: str | os.PathLike, *, display_name: str | None = None, note: str | None = None) -> dict:
    """Change the shown name and/or the note (None leaves a field as it is); returns what is stored."""
    p = _check_run(run_dir)
    notes = read_notes(p)
    if display_name is not None:
        name = " ".join(str(display_name).split())
        if len(name) > MAX_NAME:
            raise RunsError(f"A run's name can have at most {MAX_NAME} characters; shorten it.")
        notes["display_name"] = name
    if note is not None:
        if len(note) > MAX_NOTE:
            raise RunsError(f"A note can have at most {MAX_NOTE} characters; shorten it.")
        notes["note"] = str(note)
    write_json(p / NOTES, notes)
    return notes


def delete_run(run_dir: str | os.PathLike, runs_root: str | os.PathLike) -> None:
    """Remove a run folder for good (the caller asked the person first)."""
    p = _check_run(run_dir)
    if p.resolve().parent != Path(runs_root).resolve():
        raise RunsError(f"{p} is not directly inside the runs folder {runs_root}; it was not deleted.")
    shutil.rmtree(p)
