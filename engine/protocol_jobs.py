"""Protocol messages of the long requests and of opening a bundle (issue 24), kept beside protocol.py.

Registered in protocol.py's table when protocol.py imports this module (at its end), so
`protocol.JobProgress` and friends are the names to use, and decode knows them.
Long requests (PredictFolder, FindLR) run one at a time beside the quick ones; on the way they
send JobProgress carrying the request's seq, then exactly one answer; CancelRequest stops one.
"""
from __future__ import annotations

from dataclasses import field

from .protocol import Message, message


# ---------------------------------------------------------------- engine -> GUI
@message("job_progress")
class JobProgress(Message):
    """A long request's partial result (Orange's on_partial_result): not its answer, which follows once.

    Folder predictions send their rows here as they come; the learning-rate finder its (lr, loss) points."""

    done: int = 0
    total: int = 0
    eta_s: float | None = None
    per_s: float = 0.0
    items: list = field(default_factory=list)  # predictions: like Predictions.items; lr finder: [[lr, loss], ...]
    request_seq: int | None = None


@message("folder_predicted")
class FolderPredicted(Message):
    """The end of a folder prediction; its rows came in JobProgress messages."""

    folder: str = ""
    total: int = 0  # files found
    done: int = 0  # files answered (all of them, unless cancelled)
    unreadable: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    request_seq: int | None = None


@message("bundle_opened")
class BundleOpened(Message):
    """A bundle whose every file matched its manifest's hash, and what the app shows about it."""

    path: str = ""
    classes: list = field(default_factory=list)
    modality: str = ""
    backbone: str = ""
    metrics: dict = field(default_factory=dict)  # its training's evaluation (metrics.json), as a run's
    model_card: str = ""
    request_seq: int | None = None


@message("lr_found")
class LRFound(Message):
    """The learning-rate range test (Smith 2017, fastai's lr_find); the model's weights are as they were."""

    lrs: list = field(default_factory=list)
    losses: list = field(default_factory=list)  # smoothed (exponential moving average, bias-corrected)
    suggestion: float | None = None
    rule: str = ""  # how the suggestion was picked, in words
    stopped: str = ""  # why the test ended: "range" (reached the largest rate) | "diverged" | "cancelled"
    request_seq: int | None = None


# ---------------------------------------------------------------- GUI -> engine
@message("predict_folder")
class PredictFolder(Message):
    """Every file under `folder` (recursively), streamed back in JobProgress rows."""

    model: str = ""  # a bundle folder or a run directory
    folder: str = ""
    top_k: int = 3


@message("find_lr")
class FindLR(Message):
    """The learning-rate range test on this config's data, backbone and freezing (nothing is saved)."""

    config: dict = field(default_factory=dict)  # RunConfig.to_dict()
    steps: int = 100
    start_lr: float = 1e-7
    end_lr: float = 10.0


@message("cancel_request")
class CancelRequest(Message):
    """Stop one request (queued or running); it still gets its answer (what it had, or Error(cancelled))."""

    target: int = 0  # the seq of the request to stop (not `seq`: that is the envelope's)


@message("open_bundle")
class OpenBundle(Message):
    """Check a bundle's hashes and describe it (BundleOpened)."""

    path: str = ""
