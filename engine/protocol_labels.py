"""Labeling's protocol messages (issue 25), kept beside engine/protocol.py, which imports and
re-exports them: standard library only, registered by the same decorator.

`LabelQueue` is a long request (engine/jobs.py, engine/labels/queue.py): JobProgress (done/total
files scored) on the way, then one `LabelSuggestions`; CancelRequest stops it with what it has.
The labels themselves are written by the app through engine/labels/sidecar.py (standard library),
never over the wire.
"""
from __future__ import annotations

from dataclasses import field

from .protocol import Message, message
from .vocabulary import QueueStrategy


@message("label_queue")
class LabelQueue(Message):
    """Order the files under `root` for labeling, with `model`'s guess for each."""

    root: str = ""  # the data folder being labeled
    model: str = ""  # a bundle folder or a run directory
    strategy: str = QueueStrategy.USEFUL  # a QueueStrategy
    seed: int = 0
    limit: int = 1000  # items sent (the top of the queue); the rest is counted in `total`
    include_labeled: bool = False  # also rank files that already have a label (review)


@message("label_suggestions")
class LabelSuggestions(Message):
    """items: [{rank, path, guess, confidence, score}] best first (score: the model's uncertainty,
    higher = less sure); skipped: [{path, reason}] files that could not be read."""

    root: str = ""
    strategy: str = QueueStrategy.USEFUL
    items: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    total: int = 0  # files scored or tried (unlabeled ones, unless include_labeled)
    labeled: int = 0  # files left out because they already have a label
    cancelled: bool = False
    seconds: float = 0.0
    request_seq: int | None = None
