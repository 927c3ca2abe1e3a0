"""A run's `log.txt`: what the run thread logs (engine and library loggers, Python warnings),
the run's own Log messages, and the traceback if it fails.

The run directory is created inside `train()`, so lines logged before it exists are held
and written as soon as the directory is known (from `resume_from`, a Checkpoint or Result
message, or the "Run directory:" line the run logs first). Output that bypasses Python
logging (a C library writing to fd 2) reaches only stderr.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from . import protocol

RUN_DIR_PREFIX = "Run directory: "
MAX_HELD_LINES = 10_000


def run_dir_hint(msg: protocol.Message) -> str | None:
    """The run directory a reported message reveals, if any."""
    if isinstance(msg, protocol.Checkpoint) and msg.path:
        p = Path(msg.path)
        if p.parent.name == "checkpoints":
            return str(p.parent.parent)
    if isinstance(msg, protocol.Result) and msg.run_dir:
        return msg.run_dir
    if isinstance(msg, protocol.Log) and msg.text.startswith(RUN_DIR_PREFIX):
        return msg.text[len(RUN_DIR_PREFIX):].strip()
    return None


class RunLog(logging.Handler):
    """Logging handler for one run thread; use as a context manager around the run."""

    def __init__(self, run_dir: str | None = None, thread: threading.Thread | None = None):
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.thread_id = (thread or threading.current_thread()).ident
        self.run_dir: str | None = None
        self._held: list[str] = []
        self._file = None
        self._io_lock = threading.Lock()
        if run_dir:
            self.set_run_dir(run_dir)

    def __enter__(self) -> "RunLog":
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger().removeHandler(self)
        self.close()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.thread_id

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never break the run
            self.handleError(record)

    def note(self, msg: protocol.Message) -> None:
        """Record a message the run reported (its Log lines; where its directory is)."""
        hint = run_dir_hint(msg)
        if hint and self.run_dir is None:
            self.set_run_dir(hint)
        if isinstance(msg, protocol.Log):
            self.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg.level.upper()} run: {msg.text}")

    def set_run_dir(self, run_dir: str) -> None:
        path = Path(run_dir)
        if not path.is_dir():
            return
        with self._io_lock:
            self.run_dir = str(path)
            self._file = open(path / "log.txt", "a", encoding="utf-8")
            for line in self._held:
                self._file.write(line + "\n")
            self._held.clear()
            self._file.flush()

    def write(self, text: str) -> None:
        with self._io_lock:
            if self._file is not None:
                self._file.write(text + "\n")
                self._file.flush()
            elif len(self._held) < MAX_HELD_LINES:
                self._held.append(text)

    def close(self) -> None:
        with self._io_lock:
            if self._file is not None:
                self._file.close()
                self._file = None
        super().close()
