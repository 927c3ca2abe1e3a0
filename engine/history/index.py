"""A rebuildable cache of run summaries: `<runs folder>/.runs-index.sqlite` (stdlib sqlite3).

Never the only copy of anything: each row is a summary computed from a run folder
(summary.read_summary) with the folder's *signature*, and a row whose signature no longer
matches is computed again; delete the file and the next listing rebuilds it. Why it exists:
on the shared 2-core machine here, reading 500 run folders took 107 ms of CPU but 270-350 ms
of wall time (load average 9-15), over the 300 ms the Runs window may take to open
(benchmarks/bench_runs_listing.py); with the index a listing is a few stats per run.

The signature is five stats: the run folder (every file training writes at its top level
is written atomically, by rename, which changes the folder's mtime: config, model, recipe,
metrics, refit, notes...), its checkpoints/ folder (checkpoints are swapped in as folders),
notes.json and metrics.json (a rename gives them a new inode: a rename within the same
coarse clock tick as the folder's last change is still seen), and events.jsonl (appended
to: size and mtime). A run that looks like it is still running
(its log changed in the last RUNNING_S seconds) is never cached, since that status turns
into "stopped" by the clock alone. Any sqlite trouble (read-only folder, a locked or
damaged file) makes the listing read the folders directly, as if there were no index.
"""
from __future__ import annotations

import json
import os
import sqlite3

INDEX = ".runs-index.sqlite"
VERSION = 2  # of the summary's shape: rows of another version are computed again


SIGNED = ("", "checkpoints", "notes.json", "metrics.json", "events.jsonl")  # events.jsonl last (events_mtime)


def signature(run_dir: str) -> str | None:
    """The stats that change whenever anything a summary reads changes; None if the folder is gone."""
    parts = []
    for name in SIGNED:
        try:
            st = os.stat(os.path.join(run_dir, name) if name else run_dir)
            parts.append(f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}")
        except FileNotFoundError:
            parts.append("-")
        except OSError:
            return None
    return "|".join(parts)


def events_mtime(sig: str) -> float | None:
    """events.jsonl's mtime (seconds) from a signature."""
    last = sig.rsplit("|", 1)[-1]
    return int(last.split(":")[1]) / 1e9 if last != "-" else None


class SummaryIndex:
    """The cache for one runs folder; every method fails soft (returns nothing, stores nothing)."""

    def __init__(self, runs_root: str):
        self.path = os.path.join(os.fspath(runs_root), INDEX)
        self.db: sqlite3.Connection | None = None
        try:
            self.db = sqlite3.connect(self.path, timeout=0.5)
            self.db.execute("CREATE TABLE IF NOT EXISTS summaries (path TEXT PRIMARY KEY, sig TEXT NOT NULL, "
                            "version INTEGER NOT NULL, summary TEXT NOT NULL)")
        except sqlite3.Error:
            self.close()

    def load(self) -> dict[str, tuple[str, dict]]:
        """{run path: (signature, summary dict)} of this version's rows."""
        if self.db is None:
            return {}
        try:
            rows = self.db.execute("SELECT path, sig, summary FROM summaries WHERE version = ?", (VERSION,))
            return {p: (sig, json.loads(text)) for p, sig, text in rows}
        except (sqlite3.Error, ValueError):
            self._rebuild()
            return {}

    def store(self, fresh: list[tuple[str, str, dict]], keep: set[str]) -> None:
        """Write the summaries computed now and drop the rows of folders that are gone."""
        if self.db is None:
            return
        try:
            with self.db:
                self.db.executemany("INSERT OR REPLACE INTO summaries VALUES (?, ?, ?, ?)",
                                    [(p, sig, VERSION, json.dumps(s)) for p, sig, s in fresh])
                gone = [(p,) for (p,) in self.db.execute("SELECT path FROM summaries") if p not in keep]
                self.db.executemany("DELETE FROM summaries WHERE path = ?", gone)
        except sqlite3.Error:
            pass  # a locked or read-only index: the next listing reads those folders again

    def _rebuild(self) -> None:
        """A damaged index is dropped; the next listing writes a new one."""
        self.close()
        try:
            os.remove(self.path)
        except OSError:
            pass

    def close(self) -> None:
        if self.db is not None:
            try:
                self.db.close()
            except sqlite3.Error:
                pass
        self.db = None
