"""Engine errors that carry a `kind` and one plain-language sentence.

The server turns any EngineError into a protocol `error` message with the same kind and
message; the CLI prints the message and exits non-zero. Anything else is a bug (kind
"internal") and is reported with its traceback as detail.
"""
from __future__ import annotations

import errno

from .config import ConfigError as _ConfigError


class EngineError(Exception):
    kind = "internal"

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.detail = detail


class DataError(EngineError):
    kind = "data"


class RankFailed(EngineError):
    """One process of a multi-process run died; the launcher's sentence names it (train/launch.py)."""
    kind = "rank_failed"


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


class DiskFullError(EngineError):
    kind = "disk_full"


_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_FULL_TEXTS = ("no space left on device", "os error 28", "disk quota exceeded", "os error 122")


def disk_full(exc: BaseException, folder=None, then: str = "try again") -> DiskFullError | None:
    """A DiskFullError naming `folder` when `exc` or what caused it is a full disk, else None.

    Libraries say it differently: OSError errno 28 (ENOSPC), safetensors' "... (os error 28)",
    torch's "No space left on device"; the cause chain is followed too."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        if isinstance(e, DiskFullError):
            return e
        if (isinstance(e, OSError) and e.errno in _FULL_ERRNOS) or any(t in str(e).lower() for t in _FULL_TEXTS):
            where = folder or getattr(e, "filename", None)
            disk = f"The disk holding {where}" if where else "The disk"
            return DiskFullError(f"{disk} is full; free some space there and {then}.", detail=str(e)[:2000])
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, EngineError):
        return exc.kind
    if isinstance(exc, _ConfigError):
        return "config"
    return "internal"
