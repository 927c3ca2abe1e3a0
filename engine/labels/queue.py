"""Which file to label next: "most useful first" (the model's least sure, spread out) or random.

Protocol: the app asks with `LabelQueue(root, model, strategy, seed, limit, include_labeled)`
(engine/protocol_labels.py), a long request run on the job thread; `JobProgress` (done/total)
comes on the way and the answer is `LabelSuggestions(items=[{rank, path, guess, confidence,
score}], skipped=[{path, reason}], ...)`. The CLI's `transfer-studio label suggest` is the same
`suggest` below. numpy (and, through the Predictor, torch): the GUI never imports this module.

Why this ordering (`order`): a person labels in batches and the model is trained again between
them, so what matters is which batch comes next. Uncertainty alone (margin: top probability
minus the second; Scheffer et al. 2001, still the one to beat in Bahri et al. 2022, "Is margin
all you need?") can fill a batch with near-copies of one confusion, all teaching the same thing.
So each batch is drawn from the POOL_FACTOR x batch most uncertain files and spread across the
*confusions* they hold (the pair of the two likeliest classes), the most uncertain of each in
turn (`by_confusion`; clusters + round-robin as in cluster-margin, Citovsky et al. 2021, with
the model's own confusions as the clusters). k-center greedy on L2-normalised backbone features
(Sener & Savarese 2018; `diversity="kcenter"`) was the first default and is kept as an option:
on Fashion-MNIST it saved 22 % of the labels against random, confusion round-robin 39 % (33 % on
fresh seeds; benchmarks/ACTIVE_LABELS.md): farthest-point picks reach for atypical images.
Only the first DIVERSE_BATCHES batches are spread (the model is retrained long before a person
gets further); the rest follow uncertainty.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..vocabulary import QueueStrategy

BATCH = 50  # labels per round: what a person labels before training again
POOL_FACTOR = 4  # a batch is spread across the 4 x batch most uncertain files
DIVERSE_BATCHES = 20  # batches spread by k-center; later ones by uncertainty alone
CHUNK = 64  # files scored per progress message
STRATEGIES = tuple(QueueStrategy)  # "useful", "random"
MEASURES = ("margin", "entropy")
DIVERSITIES = ("kcenter", "confusions", None)
DIVERSITY = "confusions"  # the default: see the module docstring and benchmarks/ACTIVE_LABELS.md


@dataclass(frozen=True)
class Suggestion:
    path: str
    guess: str  # the model's decision (its decision rule: temperature, threshold)
    confidence: float  # the calibrated probability of the guess
    score: float  # uncertainty: higher = the model is less sure (margin: 1 - (p1 - p2))
    rank: int  # 1 = label first

    def to_dict(self) -> dict:
        return asdict(self)


def uncertainty(probs: np.ndarray, measure: str = "margin") -> np.ndarray:
    """Higher = less sure. margin: 1 - (top - second); entropy: -sum p log p (nats)."""
    p = np.asarray(probs, dtype=np.float64)
    if measure == "entropy":
        return -(p * np.log(np.clip(p, 1e-12, 1.0))).sum(axis=1)
    if measure != "margin":
        raise ValueError(f"unknown uncertainty measure {measure!r}; use one of {', '.join(MEASURES)}")
    if p.shape[1] < 2:
        return np.zeros(len(p))
    top2 = -np.partition(-p, 1, axis=1)[:, :2]
    return 1.0 - (top2[:, 0] - top2[:, 1])


def _unit(features: np.ndarray) -> np.ndarray:
    f = np.asarray(features, dtype=np.float32)
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def k_center(pool: np.ndarray, k: int, centers: np.ndarray | None = None) -> list[int]:
    """k rows of `pool` (unit vectors), each the farthest from the centers and the rows chosen
    before it (greedy k-center); with no centers the first row (the most uncertain) starts."""
    m = len(pool)
    k = min(k, m)
    if k <= 0:
        return []
    if centers is not None and len(centers):
        dist = np.maximum(0.0, 2.0 - 2.0 * (pool @ centers.T).max(axis=1))
        chosen = []
    else:
        chosen = [0]
        dist = np.maximum(0.0, 2.0 - 2.0 * (pool @ pool[0]))
        dist[0] = -1.0
    while len(chosen) < k:
        i = int(np.argmax(dist))  # ties: the earlier row, i.e. the more uncertain
        chosen.append(i)
        dist = np.minimum(dist, np.maximum(0.0, 2.0 - 2.0 * (pool @ pool[i])))
        dist[chosen] = -1.0
    return chosen


def by_confusion(probs: np.ndarray, k: int) -> list[int]:
    """k rows of `probs` (sorted most uncertain first), taken in turn from each confusion (the
    unordered pair of the two likeliest classes), the most uncertain of each first: a batch covers
    every confusion the pool holds, and never reaches for outliers as farthest-point picks do."""
    top2 = np.argsort(-probs, axis=1)[:, :2] if probs.shape[1] > 1 else np.zeros((len(probs), 2), int)
    groups: dict[tuple, list[int]] = {}
    for i, (a, b) in enumerate(top2):
        groups.setdefault((min(a, b), max(a, b)), []).append(i)  # rows in uncertainty order
    queues = list(groups.values())  # ordered by each group's most uncertain row
    out: list[int] = []
    while len(out) < min(k, len(probs)):
        for q in queues:
            if q and len(out) < k:
                out.append(q.pop(0))
    return out


def order(probs: np.ndarray, features: np.ndarray | None = None, *, strategy: str = "useful", seed: int = 0,
          batch: int = BATCH, measure: str = "margin", diversity: str | None = DIVERSITY,
          labeled_features: np.ndarray | None = None, pool_factor: int = POOL_FACTOR,
          diverse_batches: int = DIVERSE_BATCHES) -> list[int]:
    """Every row index of `probs`, in the order to label them (see the module docstring).

    diversity: how each batch is spread among the pool_factor x batch most uncertain rows:
    "kcenter" (on `features`), "confusions" (by_confusion), or None (uncertainty alone).
    labeled_features: features of files already labeled, so k-center's first batch keeps away from them."""
    n = len(probs)
    if strategy == "random":
        return [int(i) for i in np.random.default_rng(seed).permutation(n)]
    if strategy != "useful":
        raise ValueError(f"unknown queue order {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if diversity not in DIVERSITIES:
        raise ValueError(f"unknown diversity {diversity!r}; use kcenter, confusions or None")
    score = uncertainty(probs, measure)
    jitter = np.random.default_rng(seed).random(n) * 1e-9  # ties broken by the seed, not the file order
    by_score = list(np.lexsort((jitter, -score)))
    if diversity is None or (diversity == "kcenter" and features is None) or n == 0:
        return [int(i) for i in by_score]
    feats = _unit(features) if diversity == "kcenter" else None
    centers = _unit(labeled_features) if feats is not None and labeled_features is not None \
        and len(labeled_features) else None
    out: list[int] = []
    left = by_score
    for _ in range(diverse_batches):
        if not left:
            break
        pool = left[:pool_factor * batch]
        if feats is None:
            picked = [pool[j] for j in by_confusion(np.asarray(probs)[pool], batch)]
        else:
            picked = [pool[j] for j in k_center(feats[pool], batch, centers)]
            centers = feats[picked] if centers is None else np.vstack([centers, feats[picked]])
        out += picked
        taken = set(picked)
        left = [i for i in left if i not in taken]
    return [int(i) for i in out + left]


@contextmanager
def head_inputs(model, n_classes: int):
    """Collect what the model's output layer is given (the backbone's features) on each forward:
    the last Linear with one output per class, found in timm, torchvision and HF models alike."""
    import torch

    if not isinstance(model, torch.nn.Module):  # a simple, non-neural model (engine/classical): no features
        yield None
        return
    heads = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == n_classes]
    got: list[np.ndarray] = []
    if not heads:
        yield None
        return
    handle = heads[-1].register_forward_pre_hook(
        lambda _m, args: got.append(args[0].detach().float().reshape(len(args[0]), -1).cpu().numpy()))
    try:
        yield got
    finally:
        handle.remove()


def score_files(predictor, paths: list[str], send=None, cancel=None):
    """(probabilities (n, classes), features (n, d), indices of the files read, skipped [{path, reason}]).

    Files are read and scored CHUNK at a time in batches of the predictor's size; one that cannot be
    read is skipped and listed, never fatal. Features fall back to the probabilities if the model
    has no recognisable output layer. Cancelling stops after the chunk in hand (`done` < total)."""
    from .. import protocol

    probs, feats, ok, skipped = [], [], [], []
    t0 = time.monotonic()
    with head_inputs(predictor.model, len(predictor.classes)) as got:
        for start in range(0, len(paths), CHUNK):
            if cancel is not None and cancel.is_set():
                break
            for b in range(start, min(start + CHUNK, len(paths)), predictor.batch_size):
                good, prepared = [], []
                for i in range(b, min(b + predictor.batch_size, start + CHUNK, len(paths))):
                    try:
                        prepared.append(predictor._prepare(paths[i]))
                        good.append(i)
                    except Exception as exc:  # one unreadable file is listed, never fatal
                        skipped.append({"path": paths[i], "reason": f"could not read it ({type(exc).__name__}: {exc})"})
                if not good:
                    continue
                if got is not None:
                    got.clear()
                p = predictor.score_prepared(prepared)
                probs.append(p)
                feats.append(got[-1] if got else p)
                ok += good
            done = min(start + CHUNK, len(paths))
            if send is not None:
                rate = done / max(1e-9, time.monotonic() - t0)
                send(protocol.JobProgress(done=done, total=len(paths), per_s=rate,
                                          eta_s=(len(paths) - done) / rate if rate else None))
    k = len(predictor.classes)
    return (np.vstack(probs) if probs else np.zeros((0, k)), np.vstack(feats) if feats else np.zeros((0, k)),
            ok, skipped)


@dataclass
class Queue:
    items: list[Suggestion]
    skipped: list[dict]  # {path, reason}
    total: int  # files considered (before skipping unreadable ones)
    labeled: int  # files left out because they already have a label (or are excluded)
    cancelled: bool = False
    seconds: float = 0.0


def suggest(model: str | Path, root: str | Path, *, strategy: str = "useful", seed: int = 0,
            include_labeled: bool = False, measure: str = "margin", predictor=None, send=None,
            cancel=None) -> Queue:
    """The files under `root` that have no label yet (every data file with include_labeled), ordered
    for labeling, each with the model's guess. `model`: a bundle folder or a run directory.

    Only the files offered are scored (a person's folder may hold many labeled ones), so the first
    batch is spread among themselves, not away from what is labeled already."""
    from ..bundle.reader import open_predictor
    from ..data.labeled import data_files
    from ..errors import DataError

    t0 = time.monotonic()
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; give the data folder whose files should be labeled.")
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown queue order {strategy!r}; use one of {', '.join(STRATEGIES)}")
    predictor = predictor or open_predictor(str(model))
    files = data_files(str(root), cancel)
    kinds = [(c, label) for c, label in files if c.kind == predictor.modality]
    wanted = [c.path for c, label in kinds if include_labeled or label is None]
    skipped = [{"path": c.path, "reason": f"not a kind of file this {predictor.modality} model reads"}
               for c, _ in files if c.kind != predictor.modality]
    probs, feats, ok, unread = score_files(predictor, wanted, send, cancel)
    cancelled = cancel is not None and cancel.is_set()
    cal, guesses = predictor.decided(probs) if len(probs) else (probs, [])
    score = uncertainty(cal, measure) if len(cal) else np.zeros(0)
    ranked = order(cal, feats, strategy=strategy, seed=seed, measure=measure)
    col = {c: i for i, c in enumerate(predictor.classes)}
    items = [Suggestion(wanted[ok[j]], str(guesses[j]), float(cal[j, col[guesses[j]]]), round(float(score[j]), 6), r)
             for r, j in enumerate(ranked, 1)]
    return Queue(items, skipped + unread, len(wanted), len(kinds) - len(wanted), cancelled, time.monotonic() - t0)
