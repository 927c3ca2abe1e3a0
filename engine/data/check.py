"""Opening every candidate file once: content hash plus a real decode, in a thread pool.

Reading and hashing are I/O bound and PIL/hashlib release the GIL while they work, so
threads give most of the speed of processes without their start-up and pickling cost.
One bad file yields a `Checked` with a `problem`; it never stops the scan.
"""
from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

from .. import protocol
from ..errors import Cancelled
from .discover import Candidate
from .dicom import DICOM_EXTS, looks_like_dicom, verify_dicom
from .images import IMAGE_EXTS, ImageProblem, load_image, verify_image
from .neardupes import perceptual_hash
from .text import NOT_TEXT_SHARE, TextTooLarge, not_text_share, read_head, text_of_head

WHOLE_FILE_LIMIT = 32 << 20  # files up to this size are read once and decoded from memory
CHUNK = 1 << 20
PROGRESS_INTERVAL_S = 0.2  # ~5 progress messages a second at most
PHASH_SIDE = 64  # JPEGs decode at a reduced scale down to this side for the perceptual hash


@dataclass(frozen=True)
class Checked:
    cand: Candidate
    sha256: str | None = None
    problem: str | None = None  # why the file is skipped; None = usable
    code: str = ""  # the problem's group: zero_byte|truncated|too_large|not_image|unreadable|empty_text|
    #   text_too_large|not_text
    width: int = 0
    height: int = 0
    mode: str = ""
    chars: int = 0
    replaced: int = 0  # undecodable bytes replaced (text)
    cut: bool = False  # a text longer than any model reads: only its first READ_BYTES are used
    dicom: dict | None = None  # DICOM files: frames, modality, photometric, transfer_syntax
    phash: str | None = None  # images: perceptual hash of the grey thumbnail (neardupes.py)
    patient: str | None = None  # DICOM PatientID: in memory only, to group examples (never written)


def default_workers() -> int:
    return min(32, max(8, 2 * (os.cpu_count() or 2)))


def _hash_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        _hash_rest(f, h)
    return h.hexdigest()


def _hash_rest(f, h) -> None:
    """Feed the rest of an open file to h through one reused buffer no larger than what is left of it.

    f.read(CHUNK) made a CHUNK-sized bytes even for a 10-byte file, and the scan's threads overlap:
    tiny files briefly held megabytes (a test's 4 MiB limit failed once in CI)."""
    left = os.fstat(f.fileno()).st_size - f.tell()
    buf = bytearray(max(1, min(CHUNK, left + 1)))  # + 1: a file that grew since is still read to its end
    view = memoryview(buf)
    while n := f.readinto(buf):
        h.update(view[:n])


def _check_text(c: Candidate) -> Checked:
    """Hash the whole file (in chunks, one pass) but decode only what a model can read (text.READ_BYTES)."""
    try:
        with open(c.path, "rb") as f:
            head = read_head(f)
            h = hashlib.sha256(head)
            _hash_rest(f, h)
        sha = h.hexdigest()
        text, replaced, cut = text_of_head(head)
    except TextTooLarge as exc:
        return Checked(c, problem=str(exc), code="text_too_large")
    except OSError as exc:
        return Checked(c, problem=f"unreadable ({exc.strerror or exc})", code="unreadable")
    if not text:
        return Checked(c, sha256=sha, problem="empty text (only whitespace)", code="empty_text")
    share = not_text_share(text, replaced)
    if share > NOT_TEXT_SHARE:
        return Checked(c, sha256=sha, problem=f"not text: {share:.0%} of its characters are undecodable bytes or "
                       "control codes (binary data, or text not saved as UTF-8)", code="not_text")
    return Checked(c, sha256=sha, chars=len(text), replaced=replaced, cut=cut)


def _phash(image_or_source, sha: str, known: dict | None) -> str | None:
    """The cached perceptual hash, else one from a small decode (None if that fails: still usable)."""
    if known is not None and sha in known:
        return known[sha]
    try:
        image = image_or_source if hasattr(image_or_source, "convert") else \
            load_image(image_or_source, min_side=PHASH_SIDE)
        return perceptual_hash(image)
    except Exception:  # noqa: BLE001 - verified already; a thumbnail failure only skips near-duplicates
        return None


def check_file(c: Candidate, known: dict | None = None) -> Checked:
    """Hash and decode one file; any failure becomes a short `problem` string.

    `known`: perceptual hashes by sha256 from earlier scans (neardupes.HashCache)."""
    if c.size == 0:
        return Checked(c, problem="empty file (0 bytes)", code="zero_byte")
    if c.kind == "text":
        return _check_text(c)
    try:
        if 0 < c.size <= WHOLE_FILE_LIMIT:
            with open(c.path, "rb") as f:
                data = f.read()
            if not data:
                return Checked(c, problem="empty file (0 bytes)", code="zero_byte")
            sha, source = hashlib.sha256(data).hexdigest(), data
        else:
            sha, source = _hash_file(c.path), c.path
    except OSError as exc:
        return Checked(c, problem=f"unreadable ({exc.strerror or exc})", code="unreadable")
    ext = os.path.splitext(c.path)[1].lower()
    if ext in DICOM_EXTS or (ext not in IMAGE_EXTS and _dicom_head(source)):
        return _check_dicom(c, sha, source, known)
    try:
        w, h, mode = verify_image(source)
    except ImageProblem as exc:
        return Checked(c, sha256=sha, problem=str(exc), code=exc.code)
    except Exception as exc:  # noqa: BLE001 - a decoder bug must not end the scan
        return Checked(c, sha256=sha, problem=f"unreadable ({type(exc).__name__}: {exc})"[:200],
                       code="unreadable")
    return Checked(c, sha256=sha, width=w, height=h, mode=mode, phash=_phash(source, sha, known))


def _dicom_head(source) -> bool:
    if isinstance(source, (bytes, bytearray)):
        return looks_like_dicom(bytes(source[:132]))
    with open(source, "rb") as f:
        return looks_like_dicom(f.read(132))


def _check_dicom(c: Candidate, sha: str, source, known: dict | None = None) -> Checked:
    """Decode a DICOM file's pixels (its own window) and keep the facts the report and grouping use."""
    try:
        image, facts = verify_dicom(source)
    except ImageProblem as exc:
        return Checked(c, sha256=sha, problem=str(exc), code=exc.code)
    except Exception as exc:  # noqa: BLE001 - a pydicom message may quote a tag's value: name the kind only
        return Checked(c, sha256=sha, problem=f"unreadable DICOM file ({type(exc).__name__})", code="unreadable")
    patient = facts.pop("patient")
    return Checked(c, sha256=sha, width=image.width, height=image.height, mode=f"DICOM {facts['photometric']}",
                   dicom=facts, patient=patient, phash=_phash(image, sha, known))


def safe_check(c: Candidate, known: dict | None = None) -> Checked:
    """check_file that turns even an unexpected error into a skipped file, never a dead scan."""
    try:
        return check_file(c, known)
    except Exception as exc:  # noqa: BLE001
        return Checked(c, problem=f"unreadable ({type(exc).__name__}: {exc})"[:200], code="unreadable")


def _progress(reporter, done: int, total: int, t0: float) -> None:
    elapsed = max(time.monotonic() - t0, 1e-6)
    rate = done / elapsed
    eta = (total - done) / rate if rate > 0 else None
    reporter(protocol.Progress(step=done, steps=total, global_step=done, total_steps=total,
                               samples_per_s=round(rate, 1), eta_s=None if eta is None else round(eta, 1),
                               phase="scan"))


def check_all(cands: list[Candidate], reporter=None, cancel=None, workers: int | None = None,
              known: dict | None = None) -> list[Checked]:
    """Check every candidate (results in input order), reporting progress and honouring cancel.

    `known`: perceptual hashes by sha256 from earlier scans, so cached files skip that work."""
    total = len(cands)
    results: list[Checked | None] = [None] * total
    t0 = last = time.monotonic()
    done = 0
    if reporter is not None:
        _progress(reporter, 0, total, t0)
    if total == 0:
        return []
    pool = ThreadPoolExecutor(max_workers=workers or default_workers(), thread_name_prefix="scan")
    try:
        window = 4 * (workers or default_workers())  # bounded in-flight work keeps cancel quick
        it = iter(enumerate(cands))
        pending = {}
        for i, c in it:
            pending[pool.submit(safe_check, c, known)] = i
            if len(pending) >= window:
                break
        while pending:
            finished, _ = wait(pending, timeout=PROGRESS_INTERVAL_S, return_when=FIRST_COMPLETED)
            if cancel is not None and cancel.is_set():
                raise Cancelled("Scan cancelled.")
            for fut in finished:
                results[pending.pop(fut)] = fut.result()
                done += 1
                nxt = next(it, None)
                if nxt is not None:
                    pending[pool.submit(safe_check, nxt[1], known)] = nxt[0]
            now = time.monotonic()
            if reporter is not None and (now - last >= PROGRESS_INTERVAL_S or done == total):
                last = now
                _progress(reporter, done, total, t0)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results  # type: ignore[return-value]
