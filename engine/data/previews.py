"""Small PNG previews of example files, drawn the way the model will see them.

Why: the GUI (which never imports pydicom or numpy-heavy code) cannot decode a DICOM
file, and a window preset is only understood by looking at it; the engine draws the
8-bit image with the same `load_any_image` training uses and sends it as a PNG.
"""
from __future__ import annotations

import base64
import io

from ..config import ConfigError
from ..dicom_windows import WINDOWS
from .dicom import load_any_image
from .images import ImageProblem

MAX_PREVIEWS = 64  # per request: a page of thumbnails, never a whole data set
MAX_SIDE = 512


def render_preview(path: str, size: int = 128, window: str = "file") -> dict:
    """{"path", "png" (base64), "width", "height"} or {"path", "error"} for one file."""
    try:
        image = load_any_image(path, min_side=size, window=window)
        image.thumbnail((size, size))
        buf = io.BytesIO()
        image.save(buf, format="PNG")
    except ImageProblem as exc:
        return {"path": path, "error": str(exc)}
    except OSError as exc:
        return {"path": path, "error": f"unreadable ({exc.strerror or type(exc).__name__})"}
    return {"path": path, "png": base64.b64encode(buf.getvalue()).decode("ascii"), "width": image.width,
            "height": image.height}


def render_previews(paths: list[str], size: int = 128, window: str = "file") -> list[dict]:
    if window not in WINDOWS:
        raise ConfigError(f"The DICOM window must be one of {', '.join(WINDOWS)}, not {window!r}.")
    size = max(16, min(MAX_SIDE, int(size)))
    return [render_preview(str(p), size, window) for p in paths[:MAX_PREVIEWS]]
