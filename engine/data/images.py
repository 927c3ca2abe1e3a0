"""Reading images the way a person expects to see them, and checking them cheaply.

`load_image` always returns an 8-bit RGB image: EXIF orientation applied, transparency
composited on white (a transparent background is usually white on screen, not black),
16-bit and float images scaled by the range they actually use (a 12-bit scan stored in
16 bits would otherwise look black), first frame of animations and multi-page TIFFs.
`verify_image` decodes the file (JPEG at 1/8 scale via draft mode, which still walks
every compressed byte, so truncation is caught) without the cost of a full decode.
Only numpy and Pillow, no package-relative imports: model bundles embed this file
verbatim in their predict.py (see engine/bundle/writer.py).
"""
from __future__ import annotations

import io
import os
import warnings

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

IMAGE_EXTS = frozenset({".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                        ".ppm", ".pgm", ".pbm"})
# ~100 megapixels: any photograph, but not a crafted 50000x50000 "decompression bomb".
MAX_IMAGE_PIXELS = 100_000_000
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS  # PIL itself refuses above 2x this at open time
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a cut-off file is an error, not a grey half image
# we check the pixel count ourselves and report it; PIL's own warning would only be noise
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

WIDE_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}
ALPHA_MODES = {"LA", "La", "RGBA", "RGBa", "PA"}


class ImageProblem(Exception):
    """A file that is not a usable image; str() is the short reason shown in the report.

    `code` groups reasons for the report: truncated|too_large|not_image|unreadable.
    """

    def __init__(self, reason: str, code: str = "unreadable"):
        super().__init__(reason)
        self.code = code


def _limit() -> int:
    # read at call time so a test (or a setting) can lower the module constant
    return int(globals()["MAX_IMAGE_PIXELS"])


def _open(source) -> Image.Image:
    try:
        im = Image.open(source)
    except Image.DecompressionBombError:
        raise ImageProblem("over the decompression-bomb limit "
                           f"({_limit():,} pixels); it may be a malicious or corrupt file", "too_large") from None
    except UnidentifiedImageError:
        raise ImageProblem("not an image (the contents do not match any image format)", "not_image") from None
    except Exception as exc:  # header parsing: OSError, SyntaxError, struct errors ...
        raise _problem(exc) from None
    w, h = im.size
    if w * h > _limit():
        im.close()
        raise ImageProblem(f"over the decompression-bomb limit ({w}x{h} is more than "
                           f"{_limit():,} pixels)", "too_large")
    if w < 1 or h < 1:
        im.close()
        raise ImageProblem("image has no pixels")
    return im


def _problem(exc: BaseException) -> ImageProblem:
    """A decoder's exception as a report reason (PIL says "truncated" in its messages)."""
    text = str(exc) or type(exc).__name__
    if "truncated" in text.lower() or isinstance(exc, EOFError):
        return ImageProblem("truncated (the file ends early; it was probably cut off while copying)", "truncated")
    if isinstance(exc, Image.DecompressionBombError):
        return ImageProblem(f"over the decompression-bomb limit ({_limit():,} pixels)", "too_large")
    return ImageProblem(f"unreadable ({text[:160]})")


def verify_image(source) -> tuple[int, int, str]:
    """Decode `source` (path, bytes or file object) enough to trust it; return (w, h, mode).

    Raises ImageProblem with a short reason for anything a training run could not use.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(source)
    im = _open(source)
    try:
        w, h = im.size
        mode = im.mode
        if im.format == "JPEG":
            im.draft(None, (max(1, w // 8), max(1, h // 8)))
        im.load()
        return w, h, mode
    except ImageProblem:
        raise
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, zlib errors ...
        raise _problem(exc) from None
    finally:
        im.close()


def _wide_to_8bit(im: Image.Image) -> Image.Image:
    """16-bit / 32-bit / float grey to 8-bit, scaled by the range the data uses (no clipping)."""
    a = np.asarray(im)
    if a.dtype.kind == "f":
        finite = a[np.isfinite(a)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if lo >= 0.0 and hi <= 1.0:
            lo, hi = 0.0, 1.0
        a = np.nan_to_num(a, nan=lo, posinf=hi, neginf=lo)
    else:
        a = a.astype(np.int64)
        lo, hi = int(a.min()), int(a.max())
        if lo >= 0:  # unsigned data: scale by the bit depth actually used, e.g. 12 bits -> /4095
            lo, hi = 0, (1 << max(8, hi.bit_length())) - 1
    span = (hi - lo) or 1
    out = np.clip((a.astype(np.float64) - lo) * (255.0 / span) + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(out, mode="L")


def _on_white(im: Image.Image) -> Image.Image:
    rgba = im.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode to 8-bit RGB (see module docstring for the rules)."""
    mode = im.mode
    if mode in WIDE_MODES:
        return _wide_to_8bit(im).convert("RGB")
    if mode in ALPHA_MODES or (mode in ("P", "L", "RGB") and "transparency" in im.info):
        return _on_white(im)
    if mode == "RGB":
        return im
    return im.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV


def load_image(path: str | os.PathLike | bytes, min_side: int | None = None) -> Image.Image:
    """The image at `path` (or in the bytes given) as an upright 8-bit RGB PIL image (first frame).

    `min_side` (optional) lets a JPEG decode at a reduced scale that still keeps both
    sides at least that large — much cheaper for big photos shown to a small network.
    Raises ImageProblem (with a short reason) for a file that cannot be used.
    """
    src = _open(io.BytesIO(path) if isinstance(path, (bytes, bytearray)) else os.fspath(path))
    try:
        if min_side and src.format == "JPEG":
            w, h = src.size
            src.draft(None, (min(w, int(min_side)), min(h, int(min_side))))
        try:
            src.seek(0)
            src.load()
            upright = ImageOps.exif_transpose(src)  # a copy, so closing `src` is safe
        except Exception as exc:
            raise _problem(exc) from None
        return to_rgb(upright)
    finally:
        src.close()
