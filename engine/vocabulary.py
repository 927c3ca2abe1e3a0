"""The protocol's vocabularies: the values of its string fields (standard library only).

Messages keep plain `str` fields (a newer engine's unknown value decodes and is tolerated, shown
as it is); these enums are what this engine sends and this app knows, and
tests/test_protocol_vocabulary.py checks every literal in engine/ and gui/ against them.
protocol.py re-exports them, so `protocol.Phase` is the name to use.
"""
from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    """Status.phase: what the engine is doing."""
    IDLE = "idle"
    SCANNING = "scanning"
    LOADING_MODEL = "loading_model"
    CACHING_FEATURES = "caching_features"
    TRAINING = "training"
    REFITTING = "refitting"
    EVALUATING = "evaluating"
    SAVING = "saving"
    DONE = "done"


class ProgressPhase(StrEnum):
    """Progress.phase: which count a progress message advances."""
    TRAIN = "train"
    REFIT = "refit"
    CACHE = "cache"
    EVAL = "eval"
    SCAN = "scan"


class ErrorKind(StrEnum):
    """Error.kind: what went wrong, for the app's title and advice."""
    CONFIG = "config"
    DATA = "data"
    WEIGHTS = "weights"
    BUNDLE = "bundle"
    OUT_OF_MEMORY = "out_of_memory"
    NAN_LOSS = "nan_loss"
    DISK_FULL = "disk_full"
    CANCELLED = "cancelled"
    INTERNAL = "internal"
    RANK_FAILED = "rank_failed"  # one process of a multi-process run died; the launcher names it
    PROTOCOL = "protocol"
    BUSY = "busy"
    ENGINE_STOPPED = "engine_stopped"  # made by the app when the engine process is gone
    TIMEOUT = "timeout"  # made by the app when a request waited longer than it allows


class ByeReason(StrEnum):
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    SHUTDOWN = "shutdown"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class CheckpointKind(StrEnum):
    LAST = "last"
    BEST = "best"


class ExplainMethod(StrEnum):
    """Explained.method: how an explanation was computed (engine/explain)."""
    GRADCAM = "gradcam"  # images: Grad-CAM at the backbone's cam_layer
    INTEGRATED_GRADIENTS = "integrated_gradients"  # text: word attributions at the embeddings
    LINEAR = "linear_shares"  # a simple (linear) model: each pixel's or word's exact share of the logit


class QueueStrategy(StrEnum):
    """LabelQueue.strategy: the order files are offered for labeling (engine/labels/queue.py)."""
    USEFUL = "useful"  # the model's least sure first, each batch spread out
    RANDOM = "random"
