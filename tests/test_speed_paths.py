"""The fast paths give the same answers as the plain ones (no timing here: see benchmarks/).

- image cache: eval tensors bit-identical to `image_transform(train=False)` and close to
  the bundle's PIL preprocessing; augmented tensors of small images bit-identical to
  `image_transform(train=True)`; results independent of what fits in the cache; a bad
  file gives label -1;
- feature disk cache: reused for the same backbone weights + preprocessing + files +
  labels, recomputed when any of them changes or the file is damaged;
- deferred checkpoint writes: at most one write per interval, the best weights written
  are the best epoch's, partial (cancel) saves are immediate.
"""
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from engine.data.transforms import image_transform
from engine.train.image_cache import CachedImages, train_side

PP = {"input_size": 32, "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3], "interpolation": "bicubic",
      "crop_pct": 0.875}


def _ex(path, label=0, sha="x"):
    return SimpleNamespace(path=str(path), label=label, sha256=sha, split="train")


def _write_images(root, rng):
    """Small PNG (exact paths), a grey PNG, a large JPEG (draft mode + shrink) and a wide one."""
    root.mkdir(parents=True, exist_ok=True)
    specs = [("small.png", (28, 28, 3)), ("grey.png", (30, 26)), ("big.jpg", (300, 400, 3)),
             ("wide.png", (60, 150, 3))]
    out = []
    for name, shape in specs:
        a = rng.integers(0, 256, shape, dtype=np.uint8)
        Image.fromarray(a).save(root / name, quality=90) if name.endswith(".jpg") else \
            Image.fromarray(a).save(root / name)
        out.append(root / name)
    return out


def _batch(ds, idx):
    return ds.collate([ds[i] for i in idx])


def test_eval_tensors_equal_the_eval_transform_bit_for_bit(tmp_path):
    from engine.data.images import load_image

    paths = _write_images(tmp_path, np.random.default_rng(0))
    ds = CachedImages([_ex(p, i) for i, p in enumerate(paths)], PP, train=False)
    xs, ys = _batch(ds, range(len(paths)))
    ref = torch.stack([image_transform(PP, train=False)(load_image(p)) for p in paths])
    assert xs.dtype == torch.float32 and xs.shape == (len(paths), 3, 32, 32)
    assert torch.equal(xs, ref)
    assert ys.tolist() == list(range(len(paths)))
    # second pass comes from the cache and is still the same
    assert ds.complete and ds.cached_bytes > 0
    assert torch.equal(_batch(ds, range(len(paths)))[0], ref)


def test_eval_tensors_agree_with_the_bundle_preprocessing(tmp_path):
    """The reference for evaluation/predict.py; tolerance as in test_inference (1 grey level)."""
    from engine.bundle import preprocessing as pre
    from engine.data.images import load_image

    paths = _write_images(tmp_path, np.random.default_rng(1))
    ds = CachedImages([_ex(p) for p in paths], PP, train=False)
    xs = _batch(ds, range(len(paths)))[0].numpy()
    std = np.asarray(PP["std"]).reshape(3, 1, 1)
    for x, p in zip(xs, paths):
        theirs = pre.preprocess_image(load_image(p), PP)
        grey = np.abs(x - theirs) * std * 255
        assert grey.max() <= 1.01 and grey.mean() < 0.1


@pytest.mark.parametrize("augment", ["light", "standard", "none"])
def test_augmented_small_images_equal_the_pil_pipeline(tmp_path, augment):
    from engine.data.images import load_image

    rng = np.random.default_rng(2)
    paths = []
    for i in range(4):  # all below train_side(32) = 45 px: kept as decoded
        p = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (28 + i, 30, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    assert train_side(32) > 34
    ds = CachedImages([_ex(p) for p in paths], PP, train=True, augment=augment)
    tf = image_transform(PP, train=True, augment=augment)
    for _ in range(2):  # the first pass fills the cache, the second reads it
        torch.manual_seed(7)
        ours = _batch(ds, range(4))[0]
        torch.manual_seed(7)
        ref = torch.stack([tf(load_image(p)) for p in paths])
        assert torch.equal(ours, ref)


def test_results_do_not_depend_on_what_fits_in_the_cache(tmp_path):
    paths = _write_images(tmp_path, np.random.default_rng(3))
    exs = [_ex(p) for p in paths]
    for train in (True, False):
        full = CachedImages(exs, PP, train=train, budget=10 ** 9)
        none = CachedImages(exs, PP, train=train, budget=0)
        part = CachedImages(exs, PP, train=train, budget=3 * 45 * 45 + 10)  # room for ~1 image
        batches = []
        for ds in (full, none, part, full):
            torch.manual_seed(11)
            batches.append(_batch(ds, range(len(exs)))[0])
        assert all(torch.equal(batches[0], b) for b in batches[1:])
        assert none.cached_bytes == 0 and 0 < part.cached_bytes < full.cached_bytes


def test_big_jpeg_is_kept_small_for_training(tmp_path):
    paths = _write_images(tmp_path, np.random.default_rng(4))
    ds = CachedImages([_ex(paths[2])], PP, train=True)
    base = ds.base(0)
    assert base.dtype == torch.uint8 and min(base.shape[-2:]) == train_side(32)
    assert ds[0][0].shape == (3, 32, 32)


def test_fill_in_threads_equals_lazy_and_pickles_for_workers(tmp_path):
    paths = _write_images(tmp_path, np.random.default_rng(5))
    exs = [_ex(p, i) for i, p in enumerate(paths)]
    lazy, filled = CachedImages(exs, PP, train=False), CachedImages(exs, PP, train=False)
    filled.fill(threads=3)
    assert filled.complete and filled.cached_bytes == 4 * 3 * 32 * 32
    copy = pickle.loads(pickle.dumps(filled))  # what a "spawn" DataLoader worker receives
    for ds in (filled, copy):
        assert torch.equal(_batch(ds, range(4))[0], _batch(lazy, range(4))[0])


def test_bad_file_gives_label_minus_one_and_the_loader_carries_on(tmp_path):
    from engine.train.batches import make_dataset, make_loader

    paths = _write_images(tmp_path, np.random.default_rng(6))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    exs = [_ex(paths[0], 1), _ex(bad, 2), _ex(paths[1], 3)]
    for train in (True, False):
        ds, collate = make_dataset(exs, modality="image", preprocess=PP, train=train, augment="light")
        batches = list(make_loader(ds, collate, batch_size=2, shuffle=False, num_workers=0, seed=0))
        labels = torch.cat([y for _, y in batches]).tolist()
        assert labels == [1, -1, 3]
        assert str(bad) in ds.failed
        assert all(torch.isfinite(x).all() for x, _ in batches)


def test_smaller_training_crops_match_the_reference_pipeline_and_batch_with_a_bad_file(tmp_path):
    from engine.data.images import load_image
    from engine.train.batches import make_dataset, make_loader

    paths = _write_images(tmp_path, np.random.default_rng(8))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    ds, collate = make_dataset([_ex(paths[0], 1), _ex(bad, 2), _ex(paths[1], 3)], modality="image",
                               preprocess=PP, train=True, augment="light", train_size=24)
    x, y = next(iter(make_loader(ds, collate, batch_size=3, shuffle=False, num_workers=0, seed=0)))
    assert x.shape == (3, 3, 24, 24) and y.tolist() == [1, -1, 3]
    # the cached crops are the reference pipeline's, at the training size
    torch.manual_seed(5)
    ours = _batch(ds, [0])[0]
    torch.manual_seed(5)
    ref = image_transform(PP, train=True, train_size=24)(load_image(paths[0]))
    assert torch.equal(ours[0], ref)
    # evaluation, and training without augmentation, keep the input size
    for train, augment in ((False, "light"), (True, "none")):
        ev, _ = make_dataset([_ex(paths[0])], modality="image", preprocess=PP, train=train, augment=augment,
                             train_size=24)
        assert ev[0][0].shape == (3, 32, 32)


def test_loader_with_workers_fills_the_cache_first(tmp_path):
    from engine.train.batches import make_dataset, make_loader

    paths = _write_images(tmp_path, np.random.default_rng(7))
    exs = [_ex(p, i) for i, p in enumerate(paths)]
    ds, collate = make_dataset(exs, modality="image", preprocess=PP, train=False, augment="none")
    plain = torch.cat([x for x, _ in make_loader(ds, collate, batch_size=2, shuffle=False, num_workers=0, seed=0)])
    ds2, collate2 = make_dataset(exs, modality="image", preprocess=PP, train=False, augment="none")
    loader = make_loader(ds2, collate2, batch_size=2, shuffle=False, num_workers=1, seed=0)
    assert ds2.complete
    assert torch.equal(torch.cat([x for x, _ in loader]), plain)


# ---------------------------------------------------------------- feature cache keys
def test_feature_cache_key_changes_with_backbone_preprocess_weights_files_and_labels(tmp_path):
    from engine.backbones import build_model, get_spec
    from engine.train.features import FeatureStore, cache_key, weights_fingerprint

    spec = get_spec("test_tiny_cnn")
    pp = dict(spec.preprocess)
    base = cache_key(spec.id, "w", pp)
    assert base == cache_key(spec.id, "w", dict(pp))
    assert cache_key("test_tiny_bert", "w", pp) != base
    assert cache_key(spec.id, "w2", pp) != base
    assert cache_key(spec.id, "w", {**pp, "input_size": 48}) != base
    assert cache_key(spec.id, "w", {**pp, "interpolation": "bilinear"}) != base

    torch.manual_seed(0)
    model = build_model(spec, 3, weights=None)
    head = tuple(spec.head.prefixes)
    fp = weights_fingerprint(model, head)
    with torch.no_grad():
        model.get_classifier().weight.add_(1.0)  # the head is not part of the features
    assert weights_fingerprint(model, head) == fp
    with torch.no_grad():
        model.conv_stem.weight[0, 0, 0, 0] += 1e-3
    assert weights_fingerprint(model, head) != fp

    store = FeatureStore(tmp_path, base)
    exs = [_ex("a", 0, "h1"), _ex("b", 1, "h2")]
    p = store._path("train", exs)
    assert store._path("val", exs) != p
    assert store._path("train", [_ex("a", 0, "h1"), _ex("b", 1, "CHANGED")]) != p  # file content
    assert store._path("train", [_ex("a", 0, "h1"), _ex("b", 0, "h2")]) != p  # label
    assert FeatureStore(tmp_path, cache_key(spec.id, "w", {**pp, "input_size": 48}))._path("train", exs) != p


def test_feature_store_reuses_and_recovers_from_a_damaged_file(tmp_path):
    from engine.train.features import FeatureStore

    exs = [_ex("a", 0, "h1"), _ex("b", 1, "h2")]
    calls = []

    def compute():
        calls.append(1)
        return torch.arange(6.0).reshape(2, 3), torch.tensor([0, 1])

    store = FeatureStore(tmp_path, "k")
    f1, l1 = store.get_or_compute("train", exs, compute)
    f2, l2 = store.get_or_compute("train", exs, compute)
    assert len(calls) == 1 and torch.equal(f1, f2) and torch.equal(l1, l2)
    store._path("train", exs).write_bytes(b"garbage")
    f3, _ = store.get_or_compute("train", exs, compute)
    assert len(calls) == 2 and torch.equal(f3, f1)
    assert FeatureStore(None, "k").get_or_compute("train", exs, compute)[0].shape == (2, 3)
    assert len(calls) == 3


def _probe_config(tmp_path, data, name):
    from engine.backbones import get_spec
    from engine.config import RunConfig

    return RunConfig(data=[str(data)], backbone="test_tiny_cnn", freeze=len(get_spec("test_tiny_cnn").stages),
                     epochs=2, batch_size=8, lr=3e-3, input_size=32, augment="none", early_stopping_patience=None,
                     deterministic=True, runs_root=str(tmp_path / "runs"), name=name, val_fraction=0.25,
                     test_fraction=0.25, num_workers=0)


def test_second_probe_run_reads_features_from_disk_until_a_file_changes(tmp_path, monkeypatch):
    from engine.train import features, train
    from tests.test_train import _weights, make_images

    data = make_images(tmp_path / "data")
    calls = []
    real = features.extract

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(features, "extract", counting)
    train(_probe_config(tmp_path, data, "one"))
    assert len(calls) == 2  # train + val computed
    cache = tmp_path / "runs" / ".feature-cache"
    assert len(list(cache.glob("*.safetensors"))) == 2
    train(_probe_config(tmp_path, data, "two"))
    assert len(calls) == 2  # both read from disk
    a, b = _weights(tmp_path / "runs" / "one"), _weights(tmp_path / "runs" / "two")
    assert all(torch.equal(a[k], b[k]) for k in a)
    # change the content of one image: its split is recomputed
    import json

    victim = json.loads((tmp_path / "runs" / "one" / "splits.json").read_text())["train"][0][0]
    arr = np.asarray(Image.open(victim)).copy()
    arr[0, 0] ^= 0xFF
    Image.fromarray(arr).save(victim)
    train(_probe_config(tmp_path, data, "three"))
    assert len(calls) >= 3  # at least the train split was recomputed


# ---------------------------------------------------------------- deferred checkpoint writes
class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_deferred_saves_write_at_most_once_per_interval_and_keep_the_best_weights():
    from engine.train.loop import LoopState
    from engine.train.probe_speed import DeferredSaves

    model = torch.nn.Linear(3, 2)
    written = []

    def save_last(st, partial):
        written.append(("last", st.epoch, partial, model.weight.detach().clone()))

    def save_best(st):
        written.append(("best", st.epoch, False, model.weight.detach().clone()))

    clock = _Clock()
    saves = DeferredSaves(save_last, save_best, model, min_interval_s=10, clock=clock)
    state = LoopState()
    best_weight = None
    for epoch in range(1, 6):
        with torch.no_grad():
            model.weight.fill_(float(epoch))
        state.epoch = epoch
        clock.t += 1.0
        if epoch == 2:
            best_weight = model.weight.detach().clone()
            saves.best(state)
        saves.last(state, partial=False)
    assert written == []  # 5 s of epochs: nothing due yet
    saves.flush()
    assert [w[:3] for w in written] == [("best", 2, False), ("last", 5, False)]
    assert torch.equal(written[0][3], best_weight)  # the best epoch's weights ...
    assert torch.equal(model.weight, torch.full((2, 3), 5.0))  # ... and the live ones restored
    assert torch.equal(written[1][3], model.weight)
    written.clear()
    clock.t += 11
    saves.last(state, partial=False)  # interval passed: written at once
    assert [w[:3] for w in written] == [("last", 5, False)]
    written.clear()
    saves.last(state, partial=True)  # a cancel never waits
    assert [w[:3] for w in written] == [("last", 5, True)]


def test_single_thread_block_restores_the_thread_count():
    from engine.train.probe_speed import single_thread_on_cpu

    before = torch.get_num_threads()
    with single_thread_on_cpu(torch.device("cpu")):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_zero_head_zeroes_exactly_the_head():
    from engine.backbones import build_model, get_spec
    from engine.train.probe_speed import zero_head

    spec = get_spec("test_tiny_cnn")
    torch.manual_seed(0)
    model = build_model(spec, 3, weights=None)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    assert zero_head(model, spec) == 2  # weight and bias
    for n, p in model.named_parameters():
        if spec.head.covers(n):
            assert not p.any(), n
        else:
            assert torch.equal(p, before[n]), n
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(model.eval()(x), torch.zeros(2, 3))
