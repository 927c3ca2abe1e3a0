"""What every run goes through around `run.train`, so a crash or a full disk never strands it.

Before a resume, `atomic.recover_tree` finishes or undoes the folder swap a crash
interrupted (a kill between the two renames of checkpoints/last/ left no `last/` at all)
and removes the temp folders of interrupted writes; before a new run, temp folders whose
writer has died are removed from the runs folder. A failure is recorded in the run's
events.jsonl, so the run folder says why it stopped; a full disk becomes one sentence
naming the folder (DiskFullError), whatever library hit it.
"""
from __future__ import annotations

from pathlib import Path

from .. import protocol
from ..atomic import recover_tree, remove_stale_temps
from ..errors import Cancelled, disk_full
from ..runlog import run_dir_hint


class _Watch:
    """Passes messages on, noting the run directory and how many lines events.jsonl got."""

    def __init__(self, outer, run_dir: str | None):
        self.outer, self.run_dir, self.logged = outer, run_dir, 0

    def __call__(self, msg: protocol.Message) -> None:
        if self.run_dir is None:
            self.run_dir = run_dir_hint(msg)
        if not isinstance(msg, protocol.Progress):
            self.logged += 1
        if self.outer is not None:
            self.outer(msg)

    def record(self, err: protocol.Error) -> None:
        """Append the error to events.jsonl; a disk too full even for that line is not an error more."""
        if self.run_dir is None:
            return
        path = Path(self.run_dir) / "events.jsonl"
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(protocol.encode(err, self.logged + 1, Path(self.run_dir).name))
        except (OSError, ValueError):
            pass


def train(config, reporter=None, cancel=None, resume_from: str | None = None) -> dict:
    """`run.train` (same arguments and result) with the recovery and recording above."""
    from . import run
    from ..failures import error_message
    from .distributed import Ranks

    main = Ranks.from_env().is_main  # of several processes, rank 0 alone repairs and records
    if main and resume_from and Path(resume_from).is_dir():
        recover_tree(resume_from)
    elif main and config is not None and not resume_from and Path(config.runs_root).is_dir():
        remove_stale_temps(config.runs_root)
    watch = _Watch(reporter, resume_from if main else None)
    try:
        return run.train(config, watch, cancel, resume_from)
    except Cancelled:
        raise
    except Exception as exc:
        where = watch.run_dir or (config.runs_root if config is not None else None)
        resumable = watch.run_dir and (Path(watch.run_dir) / "checkpoints" / "last").is_dir()
        full = disk_full(exc, where, "resume the run" if resumable else "start the run again")
        watch.record(error_message(full or exc))
        if full is not None and full is not exc:
            raise full from exc
        raise
