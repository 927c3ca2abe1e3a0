"""The engine <-> GUI wire protocol: JSON Lines over the engine's stdin/stdout.

Standard library only, so the GUI can import it without torch. Every line is one JSON
object: an envelope (`v` protocol version "MAJOR.MINOR", `type`, `run_id`, `seq` a
per-sender monotonic sequence number, `t` wall-clock seconds) plus the fields of one
frozen dataclass below. Unknown types decode to None and are ignored by the receiver;
a different MAJOR version is refused at hello. No pickle ever crosses this boundary.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import ClassVar

# the values of the string fields below (vocabulary.py; a newer engine's unknown value still decodes)
from .vocabulary import (ByeReason, CheckpointKind, ErrorKind, ExplainMethod, LogLevel, Phase,  # noqa: F401
                         ProgressPhase, QueueStrategy)

PROTOCOL_VERSION = "1.0"
MAX_LINE_BYTES = 1 << 20  # receivers drop longer lines


def major(version: str) -> int:
    return int(str(version).split(".", 1)[0])


class Message:
    """Base of every message; subclasses set TYPE and are frozen dataclasses."""

    TYPE: ClassVar[str] = ""


_REGISTRY: dict[str, type] = {}


def message(type_name: str):
    """Class decorator: a frozen dataclass registered under its wire type name."""

    def wrap(cls):
        cls = dataclass(frozen=True)(cls)
        cls.TYPE = type_name
        _REGISTRY[type_name] = cls
        return cls

    return wrap


# ---------------------------------------------------------------- engine -> GUI
@message("hello")
class Hello(Message):
    protocol: str = PROTOCOL_VERSION
    engine_version: str = ""
    python: str = ""
    torch: str = ""
    device: str = "cpu"  # what "auto" resolves to
    devices: list = field(default_factory=list)  # [{"name", "kind", "memory_bytes"}]
    pid: int = 0


@message("status")
class Status(Message):
    phase: str = ""  # a Phase
    detail: str = ""


@message("progress")
class Progress(Message):
    epoch: int = 0  # 1-based
    epochs: int = 0
    step: int = 0  # step within the epoch, 1-based
    steps: int = 0  # steps per epoch
    global_step: int = 0
    total_steps: int = 0
    samples_per_s: float = 0.0
    eta_s: float | None = None
    phase: str = ProgressPhase.TRAIN  # a ProgressPhase


@message("metric")
class Metric(Message):
    """Throttled step metrics; `values` e.g. {"loss": 0.7, "lr": 1e-3}."""

    global_step: int = 0
    epoch: float = 0.0  # fractional epoch
    values: dict = field(default_factory=dict)


@message("epoch_end")
class EpochEnd(Message):
    epoch: int = 0
    values: dict = field(default_factory=dict)  # train_loss, train_accuracy, val_loss, val_accuracy, ...
    best: bool = False
    seconds: float = 0.0


@message("log")
class Log(Message):
    level: str = LogLevel.INFO  # a LogLevel
    text: str = ""


@message("checkpoint")
class Checkpoint(Message):
    kind: str = CheckpointKind.LAST  # a CheckpointKind
    path: str = ""
    epoch: int = 0


@message("heartbeat")
class Heartbeat(Message):
    rss_bytes: int = 0
    gpu_bytes: int = 0
    busy: bool = False


@message("result")
class Result(Message):
    """A finished training run: where it lives and its evaluation."""

    run_dir: str = ""
    metrics: dict = field(default_factory=dict)  # engine.evaluate output (val/test)


@message("error")
class Error(Message):
    kind: str = ErrorKind.INTERNAL  # an ErrorKind
    message: str = ""  # one plain-language sentence
    detail: str = ""  # traceback or specifics for the log
    request_seq: int | None = None


@message("bye")
class Bye(Message):
    reason: str = ByeReason.COMPLETED  # a ByeReason


# Replies to GUI requests (each carries the request's seq in request_seq).
@message("backbones")
class Backbones(Message):
    items: list = field(default_factory=list)  # registry entries as dicts + "weights_available"
    request_seq: int | None = None


@message("backbone_info")
class BackboneInfo(Message):
    """Stages of one backbone for the freezing control."""

    backbone: str = ""
    stages: list = field(default_factory=list)  # [{"name", "params", "prefixes"}], head last
    total_params: int = 0
    recommended_freeze: int = 0
    request_seq: int | None = None


@message("data_report")
class DataReport(Message):
    report: dict = field(default_factory=dict)  # engine.data health report as a dict
    request_seq: int | None = None


@message("predictions")
class Predictions(Message):
    items: list = field(default_factory=list)  # [{"path", "top": [[label, prob], ...]} | {"path", "error"}]
    request_seq: int | None = None


@message("images")
class Images(Message):
    """Example images the engine drew for the GUI: files Qt cannot read (DICOM), in a chosen window."""

    items: list = field(default_factory=list)  # [{"path", "png": base64 PNG, "width", "height"} | {"path", "error"}]
    window: str = "file"
    request_seq: int | None = None


@message("saved")
class Saved(Message):
    path: str = ""
    model_card: str = ""  # the MODEL_CARD.md text
    request_seq: int | None = None


@message("resolved_config")
class ResolvedConfig(Message):
    """What a start with this config would do: the auto recipe's every setting and why."""

    config: dict = field(default_factory=dict)  # the RunConfig with every auto setting filled in
    settings: list = field(default_factory=list)  # [{"name", "value", "auto", "reason"}], in the recipe's order
    facts: dict = field(default_factory=dict)  # what the recipe read: modality, device, examples per split, ...
    estimate: dict = field(default_factory=dict)  # {"seconds": at most, "step_s", "example_s", "steps"}, timed here
    request_seq: int | None = None


# ---------------------------------------------------------------- GUI -> engine
@message("resolve_config")
class ResolveConfig(Message):
    """Ask which settings a start with this config would use (nothing is trained or written)."""

    config: dict = field(default_factory=dict)  # RunConfig.to_dict(), None = auto


@message("start")
class Start(Message):
    config: dict = field(default_factory=dict)  # RunConfig.to_dict()
    resume_from: str | None = None  # a run directory to continue


@message("cancel")
class Cancel(Message):
    pass


@message("ping")
class Ping(Message):
    pass


@message("list_backbones")
class ListBackbones(Message):
    pass


@message("describe_backbone")
class DescribeBackbone(Message):
    backbone: str = ""
    weights: str | None = None


@message("inspect_data")
class InspectData(Message):
    paths: list = field(default_factory=list)
    grouping: dict = field(default_factory=dict)  # RunConfig.grouping(): group_by, groups_file, group_pattern


@message("render_images")
class RenderImages(Message):
    """Draw these example files as small PNGs (DICOM through `window`, engine/dicom_windows.py)."""

    paths: list = field(default_factory=list)
    size: int = 128  # longest side in pixels
    window: str = "file"


@message("predict")
class Predict(Message):
    model: str = ""  # a bundle folder or a run directory
    paths: list = field(default_factory=list)
    top_k: int = 3


@message("save_bundle")
class SaveBundle(Message):
    run_dir: str = ""
    out: str = ""


@message("shutdown")
class Shutdown(Message):
    pass


# ---------------------------------------------------------------- model library (issue 6)
# Requests handled by engine.library.requests.handle_library_request.
@message("list_library")
class ListLibrary(Message):
    """Ask for the library's entries; `scan` also looks for weights in torch hub / HF caches."""

    scan: bool = False
    verify: bool = False  # re-hash every file (slower) so each item's hashes_ok is True/False


@message("import_weights")
class ImportWeights(Message):
    """Import a weights file, a Hugging Face folder or a model pack into the library."""

    path: str = ""
    backbone: str | None = None  # registry id; None = infer from file names / config
    replace: bool = False  # replace an entry already in the library


@message("remove_from_library")
class RemoveFromLibrary(Message):
    id: str = ""


# Replies.
@message("library_items")
class LibraryItems(Message):
    """items: [{id, backbone, display_name, kind, source, size_bytes, license, imported_at,
    builtin, hashes_ok (True|False|None = not checked), problem}]; found: candidates in
    caches [{path, kind, backbone, size_bytes, in_library}] (only when scan was asked)."""

    root: str = ""
    items: list = field(default_factory=list)
    found: list = field(default_factory=list)
    request_seq: int | None = None


@message("imported")
class Imported(Message):
    """entries: the library items created (a pack gives several); skipped: [{id, reason}]."""

    entries: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    request_seq: int | None = None


# ---------------------------------------------------------------- framing
ENVELOPE = ("v", "type", "run_id", "seq", "t")


@dataclass(frozen=True)
class Envelope:
    v: str
    type: str
    run_id: str | None
    seq: int
    t: float
    message: Message | None  # None for a type this side does not know


class ProtocolError(ValueError):
    """A line that is not a protocol message (garbage, wrong shape)."""


def encode(msg: Message, seq: int, run_id: str | None = None) -> str:
    """One JSON line (with trailing newline) for `msg`."""
    body = {"v": PROTOCOL_VERSION, "type": msg.TYPE, "run_id": run_id, "seq": seq, "t": time.time()}
    for f in dataclasses.fields(msg):
        body[f.name] = getattr(msg, f.name)
    return json.dumps(body, separators=(",", ":"), allow_nan=False, default=str) + "\n"


def decode(line: str | bytes) -> Envelope:
    """Parse one line. Raises ProtocolError for garbage; unknown types give message=None."""
    if isinstance(line, bytes):
        if len(line) > MAX_LINE_BYTES:
            raise ProtocolError(f"line of {len(line)} bytes exceeds the {MAX_LINE_BYTES}-byte limit")
        line = line.decode("utf-8", errors="replace")
    elif len(line) > MAX_LINE_BYTES:
        raise ProtocolError(f"line of {len(line)} characters exceeds the limit")
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {line[:80]!r}") from exc
    except RecursionError:  # e.g. thousands of nested '[': no message nests that deep
        raise ProtocolError(f"JSON nested too deeply: {line[:80]!r}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str) or "v" not in obj:
        raise ProtocolError(f"not a protocol message: {line[:80]!r}")
    try:
        seq = int(obj.get("seq", 0))
        t = float(obj.get("t", 0.0))
    except (TypeError, ValueError, OverflowError) as exc:  # "seq": 1e999 is infinity
        raise ProtocolError(f"bad envelope: {line[:80]!r}") from exc
    cls = _REGISTRY.get(obj["type"])
    msg = None
    if cls is not None:
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            msg = cls(**{k: v for k, v in obj.items() if k in names})
        except TypeError as exc:  # pragma: no cover - dataclass with required fields
            raise ProtocolError(f"bad {obj['type']} message: {exc}") from exc
    return Envelope(str(obj["v"]), obj["type"], obj.get("run_id"), seq, t, msg)


class Sender:
    """Thread-safe writer that numbers messages; used by the engine (and tests)."""

    def __init__(self, stream, run_id: str | None = None):
        self._stream = stream
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self.run_id = run_id

    def send(self, msg: Message) -> int:
        with self._lock:
            seq = next(self._seq)
            self._stream.write(encode(msg, seq, self.run_id))
            self._stream.flush()
            return seq


def message_types() -> dict[str, type]:
    return dict(_REGISTRY)


# the long requests, their progress and answers, and opening a bundle (issue 24): registered on import
from .protocol_jobs import (BundleOpened, CancelRequest, FindLR, FolderPredicted, JobProgress,  # noqa: E402,F401
                            LRFound, OpenBundle, PredictFolder)
# the clinical evaluation's requests and replies (issue 22), registered like the others above
from .protocol_clinical import (AuditSubgroups, EvaluateFolder, Evaluated, Reconsider, ReportSaved,  # noqa: E402,F401
                                SaveReport)
# explanations (issue 23): what the model looked at, as files the app reads
from .protocol_explain import Explain, Explained  # noqa: E402,F401
# labeling with the model in the loop (issue 25): the queue's request and answer
from .protocol_labels import LabelQueue, LabelSuggestions  # noqa: E402,F401
