"""The labeling queue: uncertain first and spread out, random by seed, every file accounted for,
and the LabelQueue request streams progress and answers once (cancellable)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from engine import protocol
from engine.labels.queue import by_confusion, k_center, order, suggest, uncertainty
from engine.labels.sidecar import LabelStore
from tests.test_bundle_support import image_run, make_images, make_texts, text_run  # noqa: F401 - fixtures
from tests.test_jobs import srv  # noqa: F401 - fixture
from tests.test_server import line


@pytest.fixture(autouse=True)
def _appdata(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_STUDIO_DATA", str(tmp_path / "appdata"))


def test_uncertainty_measures():
    p = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [1 / 3, 1 / 3, 1 / 3]])
    m = uncertainty(p, "margin")
    assert m[0] < m[1] < m[2] and m[2] == pytest.approx(1.0)
    e = uncertainty(p, "entropy")
    assert e[0] < e[1] < e[2] and e[2] == pytest.approx(np.log(3))
    with pytest.raises(ValueError, match="unknown uncertainty measure"):
        uncertainty(p, "variance")


def test_k_center_spreads_a_batch_across_clusters():
    rng = np.random.default_rng(0)
    a = np.array([1.0, 0, 0]) + rng.normal(0, 0.01, (10, 3))
    b = np.array([0, 1.0, 0]) + rng.normal(0, 0.01, (3, 3))
    pool = np.vstack([a, b])
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    picked = k_center(pool, 2)
    assert picked[0] == 0 and picked[1] >= 10  # the second pick is from the other cluster


def test_by_confusion_takes_each_confusion_in_turn():
    # rows most uncertain first: three of the (0, 1) confusion, then one (1, 2), one (0, 2)
    p = np.array([[0.5, 0.5, 0], [0.52, 0.48, 0], [0.55, 0.45, 0], [0, 0.56, 0.44], [0.6, 0, 0.4]])
    assert by_confusion(p, 3) == [0, 3, 4] and by_confusion(p, 5) == [0, 3, 4, 1, 2]
    spread = order(p, strategy="useful", diversity="confusions", batch=3, pool_factor=2)
    assert spread[:3] == [0, 3, 4] and sorted(spread) == [0, 1, 2, 3, 4]


def test_useful_order_is_uncertain_first_but_not_all_one_kind():
    rng = np.random.default_rng(1)
    n = 400
    # 40 near-identical, most uncertain files (one confusion), 360 others of varied uncertainty
    feats = np.vstack([np.tile([1.0, 0, 0, 0], (40, 1)) + rng.normal(0, 0.01, (40, 4)),
                       rng.normal(0, 1, (360, 4))])
    top = rng.uniform(0.5, 1.0, n)
    top[:40] = 0.5
    probs = np.stack([top, 1 - top], axis=1)
    plain = order(probs, feats, strategy="useful", diversity=None, batch=20)
    assert set(plain[:20]) <= set(range(40))  # uncertainty alone: one batch of near-copies
    spread = order(probs, feats, strategy="useful", diversity="kcenter", batch=20)
    assert sorted(spread) == list(range(n))
    assert sum(i < 40 for i in spread[:20]) <= 3  # diversity: the batch covers other confusions too
    assert np.mean(uncertainty(probs)[spread[:20]]) > np.mean(uncertainty(probs))  # still the unsure ones
    r0, r1 = order(probs, strategy="random", seed=0), order(probs, strategy="random", seed=1)
    assert sorted(r0) == list(range(n)) and r0 != r1 and r0 == order(probs, strategy="random", seed=0)
    with pytest.raises(ValueError, match="unknown queue order"):
        order(probs, strategy="alphabetical")


def _to_label(tmp_path, n_labeled=3):
    """A flat folder: the colour images loose, one broken file, a few already labeled, a note."""
    src = make_images(tmp_path / "src", per_class=4, seed=5)
    root = tmp_path / "to_label"
    root.mkdir()
    for p in sorted(src.rglob("*.*")):
        shutil.copy(p, root / f"{p.parent.name}_{p.name}")
    (root / "broken.png").write_bytes(b"not a png")
    (root / "notes.txt").write_text("a note")
    store = LabelStore(root)
    labeled = sorted(root.glob("*_*.*"))[:n_labeled]
    for p in labeled:
        store.label(p, p.name.split("_")[0])
    return root, [str(p) for p in labeled]


def test_suggest_ranks_the_unlabeled_files_and_lists_what_it_skipped(tmp_path, image_run):
    root, labeled = _to_label(tmp_path)
    q = suggest(image_run, root, strategy="useful", seed=0)
    paths = [s.path for s in q.items]
    assert q.labeled == 3 and not set(labeled) & set(paths)
    assert len(paths) == 12 - 3 and [s.rank for s in q.items] == list(range(1, 10))
    assert {s["path"].rsplit("/", 1)[-1]: s["reason"].split(" (")[0] for s in q.skipped} == {
        "notes.txt": "not a kind of file this image model reads", "broken.png": "could not read it"}
    assert all(s.guess in ("blue", "green", "red") and 0 < s.confidence <= 1 for s in q.items)
    scores = [s.score for s in q.items]
    assert scores[0] >= np.median(scores)
    everything = suggest(image_run, root, strategy="random", seed=3, include_labeled=True)
    assert len(everything.items) == 12 and everything.labeled == 0


def test_suggest_reads_text_with_a_text_model(tmp_path, text_run):
    data = make_texts(tmp_path / "texts", per_class=3, seed=2)
    q = suggest(text_run, data, include_labeled=True)
    assert len(q.items) == 9 and not q.skipped
    assert {s.guess for s in q.items} <= {"computers", "food", "law"}


def test_the_label_queue_request_answers_with_progress_and_a_limit(srv, tmp_path, image_run):  # noqa: F811
    root, _ = _to_label(tmp_path)
    srv.handle_line(line(protocol.LabelQueue(root=str(root), model=str(image_run), strategy="useful", limit=4),
                         seq=9))
    done = srv.out.wait_for(protocol.LabelSuggestions)
    assert done.request_seq == 9 and not done.cancelled
    assert [i["rank"] for i in done.items] == [1, 2, 3, 4] and done.total == 10 and done.labeled == 3
    assert set(done.items[0]) == {"rank", "path", "guess", "confidence", "score"}
    parts = srv.out.of(protocol.JobProgress)
    assert parts and parts[-1].done == parts[-1].total == 10 and all(p.request_seq == 9 for p in parts)


def test_a_missing_model_is_a_plain_error(srv, tmp_path):  # noqa: F811
    srv.handle_line(line(protocol.LabelQueue(root=str(tmp_path), model=str(tmp_path / "nope")), seq=3))
    err = srv.out.wait_for(protocol.Error)
    assert err.request_seq == 3 and "does not exist" in err.message


def test_cancel_answers_with_what_was_scored(tmp_path, image_run):
    import threading

    src = make_images(tmp_path / "src", per_class=2, seed=1)
    root = tmp_path / "many"
    root.mkdir()
    pngs = sorted(src.rglob("*.png"))
    for i in range(70):
        shutil.copy(pngs[i % len(pngs)], root / f"img_{i:03d}.png")
    cancel, seen = threading.Event(), []

    def send(msg):
        seen.append(msg)
        cancel.set()  # after the first chunk

    q = suggest(image_run, root, send=send, cancel=cancel)
    assert q.cancelled and len(seen) == 1 and seen[0].done == 64 and seen[0].total == 70
    assert len(q.items) == 64 and q.total == 70
