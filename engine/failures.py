"""The one mapping from an exception to the protocol's Error: its kind, one sentence, the traceback.

The server replies with it and a run's guard records it in events.jsonl, so the app, the CLI
and the run folder give the same reason for the same failure.
"""
from __future__ import annotations

import traceback

from . import protocol, runtime
from .config import ConfigError
from .errors import EngineError, disk_full


def error_message(exc: BaseException, request_seq: int | None = None) -> protocol.Error:
    """The protocol form of an exception: its kind, one sentence, and the traceback."""
    detail = "".join(traceback.format_exception(exc))
    if isinstance(exc, EngineError):
        return protocol.Error(kind=exc.kind, message=exc.message, detail=exc.detail or detail,
                              request_seq=request_seq)
    if isinstance(exc, ConfigError):
        return protocol.Error(kind="config", message=str(exc), detail=detail, request_seq=request_seq)
    full = disk_full(exc)
    if full is not None:
        return protocol.Error(kind=full.kind, message=full.message, detail=detail, request_seq=request_seq)
    if runtime.is_out_of_memory(exc):
        return protocol.Error(kind="out_of_memory", detail=detail, request_seq=request_seq,
                              message="The engine ran out of memory; choose a smaller batch size, "
                                      "input size or backbone and try again.")
    return protocol.Error(kind="internal", detail=detail, request_seq=request_seq,
                          message=f"Something went wrong inside the engine ({type(exc).__name__}: {exc}); "
                                  "the details are in the log.")
