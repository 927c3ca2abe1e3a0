"""Engine errors that carry a `kind` and one plain-language sentence.

The server turns any EngineError into a protocol `error` message with the same kind and
message; the CLI prints the message and exits non-zero. Anything else is a bug (kind
"internal") and is reported with its traceback as detail.
"""
from __future__ import annotations

from .config import ConfigError as _ConfigError


class EngineError(Exception):
    kind = "internal"

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.detail = detail


class DataError(EngineError):
    kind = "data"


class WeightsError(EngineError):
    kind = "weights"


class BackboneError(EngineError):
    kind = "config"


class BundleError(EngineError):
    kind = "bundle"


class NanLossError(EngineError):
    kind = "nan_loss"


class Cancelled(EngineError):
    kind = "cancelled"


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, EngineError):
        return exc.kind
    if isinstance(exc, _ConfigError):
        return "config"
    return "internal"
