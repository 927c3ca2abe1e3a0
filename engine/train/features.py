"""Feature cache for the linear probe: run the frozen backbone once, train the head many times.

When every backbone stage is frozen, the backbone's output for an (un-augmented) example
never changes, so epoch 1 computes it and epochs 2..N train the head on stored features:
they cost a tiny fraction of epoch 1. An optional disk cache, keyed by the example's
content hash + backbone + weights + preprocessing, makes a second run on the same data free.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from .. import protocol
from .batches import in_example_order, to_device
from .callbacks import Callback


PIPELINE_VERSION = 2  # bump when decoding/transforms change what features an image gives
MAX_CACHE_BYTES = 2 * 1024 ** 3  # the disk cache drops its oldest files beyond this


def weights_fingerprint(module: torch.nn.Module, exclude: tuple[str, ...] = ()) -> str:
    """A hash of every parameter and buffer (except names starting with `exclude`, e.g. the
    head): features are only reused for these exact weights."""
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        if any(name == p or name.startswith(p + ".") for p in exclude):
            continue
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().data if t.numel() else b"")
    return h.hexdigest()[:24]


def cache_key(spec_id: str, weights_origin: str, preprocess: dict) -> str:
    blob = json.dumps({"b": spec_id, "w": weights_origin, "p": preprocess}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@torch.inference_mode()
def extract(features_fn, loader, device, *, channels_last=False, amp_dtype=None, cancel=None,
            on_batch=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Features and labels for every example, in example order (bad files keep label -1)."""
    feats, labels = [], []
    for inputs, ys in loader:
        if cancel is not None and cancel.is_set():
            from ..errors import Cancelled

            raise Cancelled("Cancelled while caching features.")
        inputs, ys = to_device(inputs, ys, device, channels_last)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            f = features_fn(inputs)
        feats.append(f.float().to("cpu"))
        labels.append(ys.to("cpu"))
        if on_batch is not None:
            on_batch(len(ys))
    f, y = torch.cat(feats), torch.cat(labels)
    order = getattr(loader, "order", None)
    if order is not None:  # a text loader yields by length
        f, y = in_example_order(f, order), in_example_order(y, order)
    return f, y


class FeatureStore:
    """In-memory features per split, optionally persisted under a cache folder."""

    def __init__(self, cache_dir: str | Path | None, key: str):
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.key = key

    def _path(self, split: str, examples) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256("".join(f"{e.sha256}:{e.label};" for e in examples).encode()).hexdigest()[:16]
        return self.cache_dir / f"{self.key}-{split}-{digest}.safetensors"

    def get_or_compute(self, split: str, examples, compute) -> tuple[torch.Tensor, torch.Tensor]:
        from safetensors.torch import load_file, save_file

        path = self._path(split, examples)
        if path is not None and path.is_file():
            try:
                d = load_file(str(path))
                if len(d["labels"]) == len(examples) == len(d["features"]):
                    path.touch()  # recently used: pruned last
                    return d["features"], d["labels"]
            except Exception:  # noqa: BLE001 - a damaged cache file is recomputed, never fatal
                pass
        feats, labels = compute()
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                save_file({"features": feats.contiguous(), "labels": labels.contiguous()}, str(tmp))
                tmp.replace(path)
                self._prune()
            except OSError:  # a full or read-only disk only costs the reuse next time
                pass
        return feats, labels

    def _prune(self) -> None:
        files = sorted(self.cache_dir.glob("*.safetensors"), key=lambda p: p.stat().st_mtime, reverse=True)
        total = 0
        for f in files:
            total += f.stat().st_size
            if total > MAX_CACHE_BYTES:
                f.unlink(missing_ok=True)


def feature_batches(feats: torch.Tensor, labels: torch.Tensor, batch_size: int, *, shuffle: bool,
                    seed: int, epoch: int):
    """Mini-batches over cached features; order depends only on (seed, epoch)."""
    n = len(labels)
    if shuffle:
        g = torch.Generator().manual_seed(int(seed) * 100003 + int(epoch))
        order = torch.randperm(n, generator=g)
    else:
        order = torch.arange(n)
    for i in range(0, n, batch_size):
        idx = order[i:i + batch_size]
        yield feats[idx], labels[idx]


def cache_split_features(model, spec, splits, cfg, device, amp_dtype, channels_last, report, cancel,
                         split_for_features, meta, dataset):
    """Linear probe: run the frozen backbone once per example and keep the features.

    Also on disk under <runs_root>/.feature-cache, keyed by backbone, a hash of its
    weights, preprocessing, pipeline version and device settings + each example's
    content hash and label, so a second run on the same data skips the backbone.
    """
    features_fn, head_fn = split_for_features(model, spec)
    model.eval()
    key_pp = {**meta["preprocess"], "pipeline": PIPELINE_VERSION, "device": device.type, "amp": str(amp_dtype),
              "channels_last": channels_last, "torch": torch.__version__}
    store = FeatureStore(Path(cfg.runs_root) / ".feature-cache",
                         cache_key(spec.id, weights_fingerprint(model, tuple(spec.head.prefixes)), key_pp))
    from torch.utils.data import Subset

    from .batches import make_loader

    # a view may be made of stored splits (a refit's training view is train + val, in that order): each
    # part is cached on its own, so a refit reuses the features its first run computed
    parts_of = getattr(dataset, "parts", lambda name: [name])
    base = getattr(dataset, "base", dataset)
    for name, split in splits.items():
        parts = parts_of(name)
        feats, labels, offset = [], [], 0
        for part in parts:
            examples = base.split(part)
            if not examples:
                continue
            report(protocol.Status(phase="caching_features", detail=f"Computing backbone features ({part})"))
            rows = Subset(split.dataset, range(offset, offset + len(examples)))
            offset += len(examples)
            loader = make_loader(rows, split.collate, batch_size=64, shuffle=False,
                                 num_workers=cfg.num_workers or 0, seed=cfg.seed)
            total, done = len(examples), [0]

            def on_batch(n, total=total, done=done):
                done[0] += n
                report(protocol.Progress(step=done[0], steps=total, phase="cache"))

            f, y = store.get_or_compute(
                part, examples, lambda loader=loader, on_batch=on_batch: extract(
                    features_fn, loader, device, channels_last=channels_last, amp_dtype=amp_dtype, cancel=cancel,
                    on_batch=on_batch))
            feats.append(f)
            labels.append(y)
        if feats:
            split.features, split.labels = torch.cat(feats).to(device), torch.cat(labels).to(device)
    return head_fn


class FeatureCache(Callback):
    """Linear probe: before the first epoch, replace the loop's splits by their frozen features and
    train only the head on them (`loop.head_fn`). Nothing to remember on resume: the features
    are computed again, or read from the disk cache."""

    def __init__(self, spec, meta: dict, dataset, split_for_features):
        self.spec, self.meta, self.dataset, self.split_for_features = spec, meta, dataset, split_for_features

    def on_fit_start(self, loop, state, resumed: bool) -> None:
        loop.head_fn = cache_split_features(loop.model, self.spec, {"train": loop.train_split, "val": loop.val_split},
                                            loop.cfg, loop.device, loop.amp_dtype, loop.channels_last, loop.report,
                                            loop.cancel, self.split_for_features, self.meta, self.dataset)
