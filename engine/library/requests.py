"""Protocol requests about the library, answered in one call so the server can dispatch them.

    reply = handle_library_request(msg, request_seq)  # msg: ListLibrary | ImportWeights | RemoveFromLibrary

Returns the reply message (LibraryItems, Imported) or an `Error` carrying the
request's seq. Importing runs a conversion subprocess and may take seconds to a
minute: call this from a worker thread, not the thread that reads stdin.
"""
from __future__ import annotations

import traceback

from engine import protocol
from engine.config import ConfigError
from engine.errors import EngineError, error_kind

LIBRARY_REQUESTS = (protocol.ListLibrary, protocol.ImportWeights, protocol.RemoveFromLibrary)


def is_library_request(msg) -> bool:
    return isinstance(msg, LIBRARY_REQUESTS)


def _items(scan: bool, verify: bool, seq: int | None) -> protocol.LibraryItems:
    import engine.library as lib

    lib.ensure_starters()
    found = lib.scan_caches() if scan else []
    return protocol.LibraryItems(root=str(lib.library_root()), items=lib.list_items(verify=verify), found=found,
                                 request_seq=seq)


def handle_library_request(msg, request_seq: int | None = None) -> protocol.Message:
    """Answer one library request; never raises (errors come back as protocol.Error)."""
    import engine.library as lib

    try:
        if isinstance(msg, protocol.ListLibrary):
            return _items(msg.scan, msg.verify, request_seq)
        if isinstance(msg, protocol.ImportWeights):
            if not msg.path:
                raise ConfigError("No path given: choose a weights file, a model folder or a model pack.")
            result = lib.import_path(msg.path, msg.backbone or None, replace=bool(msg.replace))
            ids = {e["id"] for e in result["entries"]}
            rows = [r for r in lib.list_items() if r["id"] in ids]
            return protocol.Imported(entries=rows, skipped=result["skipped"], request_seq=request_seq)
        if isinstance(msg, protocol.RemoveFromLibrary):
            lib.remove(msg.id)
            return _items(False, False, request_seq)
        raise ConfigError(f"{type(msg).__name__} is not a library request.")
    except (EngineError, ConfigError) as exc:
        return protocol.Error(kind=error_kind(exc), message=str(getattr(exc, "message", exc)),
                              detail=getattr(exc, "detail", ""), request_seq=request_seq)
    except Exception as exc:  # a bug: report it, keep the engine alive
        return protocol.Error(kind="internal", message=f"The library request failed unexpectedly: {exc}",
                              detail=traceback.format_exc(), request_seq=request_seq)
