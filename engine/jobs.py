"""The engine's long requests and the bundle check: handlers the server calls with the request.

A job (`JOBS`) runs on the server's job thread, one at a time beside the quick requests, so a
folder of 50 000 files does not hold up the app's other questions; it sends `JobProgress`
through `send` (the request's seq is filled in) and stops when `cancel` is set
(`CancelRequest(seq)`), answering with what it has.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import queue
import threading
from pathlib import Path

from . import protocol
from .config import ConfigError, RunConfig
from .errors import EngineError
from .failures import error_message

log = logging.getLogger("engine.server")


SKIPPED_LIMIT = 500  # unreadable files listed in one answer (the line stays well under 1 MiB)


class EngineBusy(EngineError):
    kind = "busy"


class JobRunner:
    """The server's job thread: a queue of long requests, the one running now, and cancel by seq."""

    def __init__(self, server):
        self.server = server
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._seq: int | None = None  # the job running now
        self._cancel = threading.Event()
        self._cancelled: set[int] = set()  # jobs cancelled while they waited

    @property
    def busy(self) -> bool:
        return self._seq is not None

    def put(self, seq: int, msg: protocol.Message) -> None:
        self._queue.put((seq, msg))

    def cancel(self, seq: int) -> None:
        """Stop the job `seq`: now if it runs (it answers with what it has), else when its turn comes."""
        with self._lock:
            if self._seq == seq:
                self._cancel.set()
            else:
                self._cancelled.add(seq)

    def close(self) -> None:
        self._cancel.set()
        self._queue.put(None)

    def loop(self) -> None:
        send = self.server.send
        while True:
            item = self._queue.get()
            if item is None:
                return
            seq, msg = item
            with self._lock:
                if seq in self._cancelled:
                    self._cancelled.discard(seq)
                    send(protocol.Error(kind="cancelled", request_seq=seq, message="Cancelled before it began."))
                    continue
                self._seq, self._cancel = seq, threading.Event()

            def partial(m: protocol.Message, seq: int = seq) -> None:
                send(dataclasses.replace(m, request_seq=seq))

            try:
                send(dataclasses.replace(JOBS[type(msg)](self.server, msg, partial, self._cancel), request_seq=seq))
            except BaseException as exc:  # noqa: BLE001 - every failure is an answer, the thread goes on
                err = error_message(exc, request_seq=seq)
                log.warning("%s failed: %s\n%s", msg.TYPE, err.message, err.detail)
                send(err)
            finally:
                with self._lock:
                    self._seq = None


def predict_folder(server, msg: protocol.PredictFolder, send, cancel) -> protocol.FolderPredicted:
    from .bundle.reader import open_predictor
    from .folder_predict import predict_folder as run

    model = Path(msg.model)
    if not model.exists():
        raise ConfigError(f"{model} does not exist; choose a trained run or a saved model bundle.")
    return run(open_predictor(str(model)), msg.folder, top_k=msg.top_k, send=send, cancel=cancel)


def find_lr(server, msg: protocol.FindLR, send, cancel) -> protocol.LRFound:
    if server.run_active:
        raise EngineBusy("A training run is using the engine; find the learning rate before starting or "
                          "after it ends.")
    from .train.lr_find import find_lr as run

    def report(m: protocol.Message) -> None:
        if isinstance(m, protocol.JobProgress):
            send(m)

    config = RunConfig.from_dict(dict(msg.config))
    out = run(config, steps=int(msg.steps), start_lr=float(msg.start_lr), end_lr=float(msg.end_lr),
                  reporter=report, cancel=cancel)
    return protocol.LRFound(lrs=out["lrs"], losses=out["losses"], suggestion=out["suggestion"],
                            rule=out["rule"], stopped=out["stopped"])


def open_bundle(server, msg: protocol.OpenBundle) -> protocol.BundleOpened:
    """Every file's hash checked (verify_bundle), then what the app shows: classes, metrics, card."""
    from .bundle.manifest import verify_bundle

    root = Path(msg.path)
    manifest = verify_bundle(root)

    def read(name: str, default):
        try:
            return json.loads((root / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return default

    card = root / "MODEL_CARD.md"
    return protocol.BundleOpened(path=str(root), classes=list(read("labels.json", {}).get("classes") or []),
                                 modality=str(manifest.get("modality", "")),
                                 backbone=str((manifest.get("backbone") or {}).get("id", "")),
                                 metrics=read("metrics.json", {}),
                                 model_card=card.read_text(encoding="utf-8") if card.is_file() else "")


def label_queue(server, msg: protocol.LabelQueue, send, cancel) -> protocol.LabelSuggestions:
    """The files of a data folder in the order to label them, with the model's guesses (labels/queue.py)."""
    from .labels.queue import suggest

    model = Path(msg.model)
    if not model.exists():
        raise ConfigError(f"{model} does not exist; choose a trained run or a saved model bundle.")
    q = suggest(model, msg.root, strategy=str(msg.strategy), seed=int(msg.seed),
                include_labeled=bool(msg.include_labeled), send=send, cancel=cancel)
    limit = max(0, int(msg.limit))
    return protocol.LabelSuggestions(root=str(msg.root), strategy=str(msg.strategy),
                                     items=[s.to_dict() for s in q.items[:limit]], skipped=q.skipped[:SKIPPED_LIMIT],
                                     total=q.total, labeled=q.labeled, cancelled=q.cancelled, seconds=q.seconds)


JOBS = {
    protocol.PredictFolder: predict_folder,
    protocol.FindLR: find_lr,
    protocol.LabelQueue: label_queue,
}
