"""Reading DICOM files as the 8-bit RGB images a model sees, with pydicom's own helpers.

Why a module of its own: a PACS export is a folder of DICOM files, often without an
extension, holding stored values that only become an image through the standard's
display pipeline. Order (DICOM PS3.4 N.2): decode (pydicom handles Bits Stored <
Bits Allocated, signed Pixel Representation, Planar Configuration and, through
`convert_color_space`, YBR -> RGB; pylibjpeg's plugins decode JPEG, JPEG-LS, JPEG 2000
and RLE with no system library) -> `apply_modality_lut` (Rescale Slope/Intercept, e.g.
CT in HU) -> the window (`apply_voi_lut` / `apply_windowing`) -> MONOCHROME1 inverted ->
scaled to 0-255 by the window's output range.

Window settings (engine/dicom_windows.py): "file" = the file's own VOI LUT or Window
Center/Width (the full range when it has none); "full" = the image's whole value range;
and CT presets (centre/width in HU) that apply to CT files only (others keep their own
window, since HU numbers mean nothing in MR or X-ray).
Multi-frame files (`FRAME_POLICY`): the middle frame is the example.

Only numpy, Pillow, pydicom (imported when a DICOM file is read) and the two modules
in the marked block: model bundles paste this file into their predict.py after those
two, and the block is dropped there.
"""
from __future__ import annotations

import io
import logging
import os
import warnings

import numpy as np
from PIL import Image

# >>> package imports (a bundle's predict.py already holds images.py's names)
from ..dicom_windows import CT_PRESETS, WINDOWS, preset_applies
from .images import IMAGE_EXTS, MAX_IMAGE_PIXELS, ImageProblem, load_image
# <<< package imports

# pydicom's warnings may quote a tag's value (a name, a date): they never reach a log
logging.getLogger("pydicom").setLevel(logging.ERROR)
DICOM_EXTS = frozenset({".dcm", ".dicom", ".dic"})
FRAME_POLICY = "the middle frame of a multi-frame file is its example"
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"  # Media Storage Directory Storage


def looks_like_dicom(head: bytes) -> bool:
    """True when a file's first 132 bytes hold the DICOM preamble's 'DICM' marker."""
    return len(head) >= 132 and head[128:132] == b"DICM"


def sniff_dicom(path) -> bool:
    """True for a DICOM file by content, whatever its name (PACS exports often have no extension)."""
    try:
        with open(path, "rb") as f:
            return looks_like_dicom(f.read(132))
    except OSError:
        return False


def is_dicom_path(path) -> bool:
    """A file to read as DICOM: a DICOM extension, or no image extension and the DICM marker."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext in DICOM_EXTS:
        return True
    return ext not in IMAGE_EXTS and sniff_dicom(path)


def _read(source, *, pixels: bool = True):
    import pydicom

    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _dcmread(pydicom, source, pixels)
    except ImageProblem:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure is this file's problem
        text = str(exc)
        if "truncat" in text.lower() or isinstance(exc, EOFError):
            raise ImageProblem("truncated (the file ends early; it was probably cut off while copying)",
                               "truncated") from None
        raise ImageProblem(f"not a readable DICOM file ({type(exc).__name__})", "unreadable") from None


def _dcmread(pydicom, source, pixels: bool):
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(source, stop_before_pixels=not pixels)
    except InvalidDicomError:  # a .dcm without the preamble (older exports): read it anyway
        if hasattr(source, "seek"):
            source.seek(0)
        return pydicom.dcmread(source, force=True, stop_before_pixels=not pixels)


def _syntax(ds) -> str:
    uid = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    return f"{uid.name} ({uid})" if uid else "unknown transfer syntax"


def _has_pixels(ds) -> bool:
    return any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"))


def check_pixels_present(ds) -> None:
    """Raise ImageProblem for a DICOMDIR or an object without pixels (SR, RTSTRUCT, KOS, ...)."""
    sop = str(getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", "") or ds.get("SOPClassUID", ""))
    if sop == DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in ds:
        raise ImageProblem("a DICOMDIR (the export's index of its files, not an image)", "dicom_not_image")
    if not _has_pixels(ds):
        try:
            from pydicom.uid import UID

            kind = UID(sop).name if sop else "DICOM"
        except Exception:  # noqa: BLE001
            kind = "DICOM"
        raise ImageProblem(f"not an image (a {kind} object holds no pixels)", "dicom_not_image")


def frame_count(ds) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _frame(ds) -> np.ndarray:
    """The decoded frame FRAME_POLICY picks, colour converted to RGB by pydicom."""
    from pydicom.pixels import pixel_array

    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    if rows < 1 or cols < 1:
        raise ImageProblem("image has no pixels (Rows or Columns is 0)", "unreadable")
    if rows * cols > MAX_IMAGE_PIXELS:
        raise ImageProblem(f"over the decompression-bomb limit ({cols}x{rows} is more than "
                           f"{MAX_IMAGE_PIXELS:,} pixels)", "too_large")
    n = frame_count(ds)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pixel_array(ds, index=n // 2 if n > 1 else None)  # raw=False: YBR -> RGB via convert_color_space
    except Exception as exc:  # noqa: BLE001 - a missing decoder or a corrupt stream
        text = str(exc).lower()
        if "less than expected" in text or "truncat" in text:
            raise ImageProblem("truncated (the pixel data ends early; it was probably cut off while copying)",
                               "truncated") from None
        raise ImageProblem(f"its pixels could not be decoded (transfer syntax {_syntax(ds)})",
                           "dicom_undecodable") from None


def _window_dataset(ds, centre: float, width: float):
    """A copy of just what apply_windowing reads, with a named preset's window."""
    from pydicom.dataset import Dataset

    w = Dataset()
    w.PhotometricInterpretation = "MONOCHROME2"
    w.BitsStored = int(ds.get("BitsStored", 16) or 16)
    w.PixelRepresentation = int(ds.get("PixelRepresentation", 0) or 0)
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        w.RescaleSlope, w.RescaleIntercept = ds.RescaleSlope, ds.RescaleIntercept
    w.WindowCenter, w.WindowWidth = centre, width
    return w


def _windowed(values: np.ndarray, ds) -> tuple[np.ndarray, float, float]:
    """pydicom's windowing, and its output range (the window applied to both ends of the number line)."""
    from pydicom.pixels import apply_windowing

    out = apply_windowing(values.astype(np.float64), ds)
    lo, hi = apply_windowing(np.array([-1e12, 1e12]), ds)
    return out, float(lo), float(hi)


def _voi_lut(values: np.ndarray, ds) -> tuple[np.ndarray, float, float]:
    """pydicom's VOI LUT (integer input, as the standard's LUT is indexed), and the LUT's output range."""
    from pydicom.pixels import apply_voi

    ints = np.rint(values).astype(np.int64)
    out = apply_voi(ints, ds)
    descriptor = ds.VOILUTSequence[0].LUTDescriptor
    first, n = int(descriptor[1]), int(descriptor[0]) or 65536
    table = apply_voi(np.arange(first, first + n, dtype=np.int64), ds)
    return out.astype(np.float64), float(table.min()), float(table.max())


def _grey_unit(stored: np.ndarray, ds, window: str) -> np.ndarray:
    """Stored values -> [0, 1] display values: modality LUT, window, MONOCHROME1 inverted."""
    from pydicom.pixels import apply_modality_lut

    values = apply_modality_lut(stored, ds)
    has_lut = bool(ds.get("VOILUTSequence"))
    has_window = ds.get("WindowCenter") is not None and ds.get("WindowWidth") is not None
    if preset_applies(window, ds.get("Modality", "")):
        out, lo, hi = _windowed(values, _window_dataset(ds, *CT_PRESETS[window]))
    elif window != "full" and has_lut:
        out, lo, hi = _voi_lut(values, ds)
    elif window != "full" and has_window:
        out, lo, hi = _windowed(values, ds)
    else:  # "full", or a file with no window of its own
        out = values.astype(np.float64)
        lo, hi = float(out.min()), float(out.max())
    unit = np.clip((out - lo) / ((hi - lo) or 1.0), 0.0, 1.0)
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        unit = 1.0 - unit  # MONOCHROME1: the lowest value is shown white
    return unit


def _colour_8bit(arr: np.ndarray, ds) -> np.ndarray:
    """RGB (or palette) pixels as uint8 RGB, scaled by the bits they were stored in."""
    if str(ds.get("PhotometricInterpretation", "")).upper() == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        arr = apply_color_lut(arr, ds)
    if arr.dtype == np.uint8:
        return arr
    bits = 16 if arr.dtype == np.uint16 and "PALETTE" in str(ds.get("PhotometricInterpretation", "")) \
        else int(ds.get("BitsStored", 8) or 8)
    return np.clip(arr.astype(np.float64) * (255.0 / ((1 << bits) - 1)) + 0.5, 0, 255).astype(np.uint8)


def dicom_to_rgb(ds, window: str = "file") -> Image.Image:
    """A dataset read with its pixels -> 8-bit RGB PIL image (see module docstring)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _to_rgb(ds, window)


def _to_rgb(ds, window: str) -> Image.Image:
    if window not in WINDOWS:
        raise ValueError(f"unknown DICOM window {window!r}; use one of {', '.join(WINDOWS)}")
    check_pixels_present(ds)
    arr = _frame(ds)
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        return Image.fromarray(_colour_8bit(arr[..., :3], ds), mode="RGB")
    if str(ds.get("PhotometricInterpretation", "")).upper() == "PALETTE COLOR":
        return Image.fromarray(_colour_8bit(arr, ds), mode="RGB")
    try:
        unit = _grey_unit(arr, ds, window)
    except (ValueError, NotImplementedError, AttributeError, IndexError) as exc:
        raise ImageProblem(f"its display settings (VOI LUT or window) cannot be applied ({type(exc).__name__})",
                           "unreadable") from None
    grey = (unit * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(grey, mode="L").convert("RGB")


def read_dicom(source, window: str = "file") -> Image.Image:
    """The DICOM file at `source` (path, bytes or file object) as an 8-bit RGB image.

    Raises ImageProblem with a short reason (its `code` says which kind) for a file that
    cannot be used: not DICOM, no pixels, a DICOMDIR, or pixels that cannot be decoded."""
    return dicom_to_rgb(_read(source), window)


def load_any_image(path, min_side: int | None = None, window: str = "file") -> Image.Image:
    """Any example image (DICOM by extension or content, else images.load_image) as 8-bit RGB."""
    if is_dicom_path(path):
        return read_dicom(os.fspath(path), window)
    return load_image(path, min_side)


def verify_dicom(source) -> tuple[Image.Image, dict]:
    """Decode a DICOM file as a scan checks it: its image (file window) and plain facts.

    facts: frames, modality, photometric, transfer_syntax, and `patient` (the PatientID,
    kept in memory only: scanning turns it into a salted group key, never writes it)."""
    ds = _read(source)
    image = dicom_to_rgb(ds, "file")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        facts = _facts(ds)
    return image, facts


def _facts(ds) -> dict:
    return {"frames": frame_count(ds), "modality": str(ds.get("Modality", "") or ""),
             "photometric": str(ds.get("PhotometricInterpretation", "") or ""), "transfer_syntax": _syntax(ds),
             "patient": str(ds.get("PatientID", "") or "").strip() or None}


def describe_dicomdir(path) -> str:
    """A DICOMDIR read as the export's index: how many images it lists and how many of those
    files are missing beside it (an incomplete copy), never a patient's name or ID."""
    import pydicom

    folder = os.path.dirname(os.fspath(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            records = pydicom.dcmread(path, force=True).get("DirectoryRecordSequence") or []
            listed = [os.path.join(folder, *[str(p) for p in (r.get("ReferencedFileID") or [])])
                      for r in records if str(r.get("DirectoryRecordType", "")).upper() == "IMAGE"]
    except Exception as exc:  # noqa: BLE001 - an unreadable index is only noted
        return f"a DICOMDIR index that could not be read ({type(exc).__name__}); the images are read from their own files"
    missing = sum(not os.path.isfile(p) for p in listed)
    gone = f", {missing} of them missing from this folder (an incomplete copy?)" if missing else ""
    return (f"a DICOMDIR, the export's index (it lists {len(listed)} image{'s' if len(listed) != 1 else ''}{gone}); "
            "the images are read from their own files")
