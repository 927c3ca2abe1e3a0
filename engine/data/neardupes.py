"""Near-identical images (re-saves, resizes, re-exports of one picture) by perceptual hash.

Why: an exact-hash check misses a JPEG saved again or a scan exported twice at another
size; such a pair under two labels is a label conflict, and split apart it is a leak.
Each image's grey thumbnail (the 8-bit image the model would see, DICOM windowed, then
grey) gets imagehash's 256-bit pHash (hash_size 16). Two images are near-identical when
their hashes differ in at most MAX_DISTANCE bits and their mean colours by at most
COLOUR_TOLERANCE (grey hides colour: a red and a blue version of one shape are not
copies). Plain images (one colour, blank scans) are never compared: every plain image
has the same pHash, so all of them would be "near-identical". Measured on Fashion-MNIST (28-px
grey images, the hard case: little detail): JPEG re-saves (quality 75), 2x
enlargements and reductions to 20 px of 300 images stayed within 28 bits (95 % within
22), while of the 50 million pairs among 10,000 different images 50 come within 32 bits,
44 once mean colours must agree too (benchmarks/NEAR_DUPLICATES.md), hence 32. Photo-like pictures: copies within 16 bits,
different pictures 100 or more apart.

Hashes are cached by content hash (sha256 of the file) in the user's data folder, so a
second scan of the same files decodes nothing for this. The cache holds hashes only.
"""
from __future__ import annotations

import numpy as np

from ..atomic import read_json, write_json

HASH_SIZE = 16  # imagehash's side: 16 -> 256-bit hashes
MAX_DISTANCE = 32  # bits (of 256)
COLOUR_TOLERANCE = 16  # of 255: the largest difference of mean red, green or blue within a pair
FLAT_STD = 3.0  # grey levels: a thumbnail plainer than this has no structure to compare
SIDE = 32  # the thumbnail the plainness and the mean colour are read from
CACHE_FORMAT = f"phash{HASH_SIZE}-grey-colour-v2"
CLUSTER_MIN, CLUSTER_SHARE = 10, 0.02  # a joined cluster holds at most max(10, 2 % of the images)
CACHE_LIMIT = 500_000  # entries kept (about 70 MB of JSON at most)
CHUNK = 1024  # rows of hashes compared at once (fewer for very many images: BLOCK_FLOATS)
BLOCK_FLOATS = 32 << 20


def perceptual_hash(image) -> str:
    """'<pHash of the grey image>:<mean colour>' (hex), or "" for a plain image.

    A plain image (one colour, a blank scan) has no structure: every such image gets the
    same pHash, so it is never compared (exact copies are still found by content hash).
    The mean colour keeps two pictures that differ only in colour (which grey hides) apart."""
    import imagehash
    from PIL import Image

    small = np.asarray(image.convert("RGB").resize((SIDE, SIDE), Image.Resampling.BILINEAR), dtype=np.float64)
    grey = small @ np.array([0.299, 0.587, 0.114])
    if grey.std() < FLAT_STD:
        return ""
    colour = bytes(np.clip(small.reshape(-1, 3).mean(axis=0) + 0.5, 0, 255).astype(np.uint8)).hex()
    return f"{imagehash.phash(image.convert('L'), hash_size=HASH_SIZE)}:{colour}"


def _as_signs(hashes: list[str]) -> np.ndarray:
    """(n, bits) float32 of +1/-1: the dot product of two rows is bits - 2 * their Hamming distance."""
    raw = np.frombuffer(b"".join(bytes.fromhex(h.split(":")[0]) for h in hashes), dtype=np.uint8)
    return np.unpackbits(raw.reshape(len(hashes), -1), axis=1).astype(np.float32) * 2.0 - 1.0


def _colours(hashes: list[str]) -> np.ndarray:
    """(n, 3) mean colours; a hash without one (as in tests of the bits alone) matches any colour."""
    out = np.full((len(hashes), 3), -1, dtype=np.int32)
    for i, h in enumerate(hashes):
        if ":" in h:
            out[i] = list(bytes.fromhex(h.split(":")[1]))
    return out


def near_pairs(hashes: list[str], max_distance: int = MAX_DISTANCE) -> list[tuple[int, int, int]]:
    """(i, j, distance) for every i < j whose hashes differ in at most max_distance bits (and
    whose mean colours, when given, differ by at most COLOUR_TOLERANCE).

    All pairs, as one matrix product per block of rows (BLAS: 10,000 hashes in about a second
    here; the work grows with the square of the count, so 100,000 take about 100 times as long)."""
    if len(hashes) < 2:
        return []
    signs, colours = _as_signs(hashes), _colours(hashes)
    bits = signs.shape[1]
    least_dot = bits - 2 * max_distance
    out: list[tuple[int, int, int]] = []
    block = max(8, min(CHUNK, BLOCK_FLOATS // len(signs)))  # a block of dot products stays near 128 MB
    for start in range(0, len(signs), block):
        dots = signs[start:start + block] @ signs[start:].T  # only columns from `start` on: i < j below
        near_r, near_c = np.nonzero(dots >= least_dot - 0.5)
        for r, c in zip(near_r.tolist(), near_c.tolist()):
            i, j = start + r, start + c
            if r < c and _same_colour(colours[i], colours[j]):
                out.append((i, j, int(round((bits - dots[r, c]) / 2))))
    return out


def _same_colour(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(a[0] < 0 or b[0] < 0 or np.abs(a - b).max() <= COLOUR_TOLERANCE)


class HashCache:
    """sha256 of a file -> its perceptual hash, kept between scans (data_dir()/cache)."""

    def __init__(self, path=None):
        from pathlib import Path

        if path is None:
            from ..library.paths import data_dir

            path = data_dir() / "cache" / "perceptual_hashes.json"
        self.path = Path(path)
        self.known: dict[str, str] = {}
        self.added = 0
        try:
            d = read_json(self.path)
            if d.get("format") == CACHE_FORMAT and isinstance(d.get("hashes"), dict):
                self.known = {str(k): str(v) for k, v in d["hashes"].items()}
        except (OSError, ValueError, AttributeError):
            self.known = {}  # no cache yet, or a damaged one: start again

    def update(self, new: dict[str, str]) -> None:
        fresh = {k: v for k, v in new.items() if k not in self.known}
        self.known.update(fresh)
        self.added += len(fresh)

    def save(self) -> None:
        if not self.added:
            return
        keep = dict(list(self.known.items())[-CACHE_LIMIT:])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_json(self.path, {"format": CACHE_FORMAT, "hashes": keep})
        except OSError:
            pass  # a cache that cannot be written only costs time next scan


def join_near_duplicates(items: list, phash_of: dict[str, str]) -> tuple[list, list[tuple], list[int]]:
    """(items with near-identical images' groups joined into one, [(item a, item b, distance)],
    [sizes of look-alike clusters too large to join]).

    Joined groups (a patient's, or a lone file's) take one key, so the split keeps them
    together; exact copies (one sha256) are dedupe.py's and are not listed here. Joining is
    transitive, so images that merely look alike (one view of one body part, say) could
    chain into a cluster holding much of the data and leave nothing to test on: a cluster
    of more than cluster_limit(n) images is reported, not joined."""
    import dataclasses
    from collections import Counter

    from .splits import group_id

    hashed = [i for i in items if phash_of.get(i.path)]
    pairs = [(hashed[a], hashed[b], d) for a, b, d in near_pairs([phash_of[i.path] for i in hashed])
             if hashed[a].sha256 != hashed[b].sha256]
    parent: dict = {}

    def root(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for a, b, _ in pairs:
        ra, rb = root(group_id(a)), root(group_id(b))
        if ra != rb:
            parent[max(ra, rb, key=repr)] = min(ra, rb, key=repr)
    if not parent:
        return items, pairs, []
    joined = {g for g in parent} | {root(g) for g in parent}
    size = Counter(root(group_id(i)) for i in items if group_id(i) in joined)
    too_big = {r for r, n in size.items() if n > cluster_limit(len(items))}
    out = []
    for i in items:
        g = group_id(i)
        keep = g not in joined or root(g) in too_big
        out.append(i if keep else dataclasses.replace(i, group=f"near:{root(g)!r}"))
    return out, pairs, sorted((size[r] for r in too_big), reverse=True)


def cluster_limit(n_items: int) -> int:
    """The most images one chain of look-alikes may join: copies of one picture are few."""
    return max(CLUSTER_MIN, int(CLUSTER_SHARE * n_items))
