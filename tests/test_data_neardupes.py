"""Near-identical images: found by perceptual hash, reported beside exact copies, kept in one split."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.data import scan
from engine.data import check as check_module
from engine.data.neardupes import near_pairs, perceptual_hash


def picture(seed: int, size: int = 96) -> Image.Image:
    """A photo-like picture (a blown-up random 16x16 field): distinct per seed."""
    small = np.random.default_rng(seed).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.BICUBIC)


def tree(root, classes=("a", "b"), per_class=6, first=0):
    for c, cls in enumerate(classes):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            picture(first + 100 * c + i).save(root / cls / f"{i}.png")
    return root


def resaved(src: Image.Image, path, size=72, quality=80):
    path.parent.mkdir(parents=True, exist_ok=True)
    src.resize((size, size), Image.BILINEAR).save(path, quality=quality)


def test_pairs_match_imagehash_distances():
    hashes = [perceptual_hash(picture(s)) for s in range(4)] + [perceptual_hash(picture(0).resize((50, 50)))]
    import imagehash

    bits = [h.split(":")[0] for h in hashes]  # the pHash alone, without the mean colour
    pairs = near_pairs(bits, max_distance=256)
    assert len(pairs) == 10
    for i, j, d in pairs:
        assert d == imagehash.hex_to_hash(bits[i]) - imagehash.hex_to_hash(bits[j])
    assert [(i, j) for i, j, _ in near_pairs(hashes)] == [(0, 4)]  # only the resized copy is near


def test_plain_images_and_colour_only_changes_are_not_near_duplicates(tmp_path):
    # every one-colour image has the same pHash: the solid red and the solid blue must not pair
    assert perceptual_hash(Image.new("RGB", (40, 40), (230, 20, 20))) == ""
    root = tmp_path / "d"
    for cls, colour in (("red", (230, 20, 20)), ("blue", (20, 20, 230))):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (32, 32), tuple(max(0, c - 10 * i) for c in colour)).save(root / cls / f"{i}.png")
    assert scan(root).report.duplicates["near"] == []
    # one shape in two colours: the grey hashes agree, the colours do not
    g = np.asarray(picture(3).convert("L"), dtype=np.float64)
    red = np.stack([g, 0.3 * g, 0.3 * g], axis=-1).astype(np.uint8)  # the same shape, tinted red ...
    blue = red[..., ::-1].copy()  # ... and tinted blue
    a, b = perceptual_hash(Image.fromarray(red)), perceptual_hash(Image.fromarray(blue))
    assert near_pairs([a.split(":")[0], b.split(":")[0]], max_distance=64) and not near_pairs([a, b])


def test_a_resized_jpeg_under_another_label_is_a_conflict_kept_in_one_split(tmp_path):
    root = tree(tmp_path / "d")
    resaved(Image.open(root / "a" / "0.png"), root / "b" / "copy.jpg")
    for seed in range(4):
        ds = scan(root, seed=seed)
        rep = ds.report.to_dict()
        assert rep["duplicates"]["near"] == [[str(root / "a" / "0.png"), str(root / "b" / "copy.jpg")]]
        codes = {f["code"]: f for f in rep["findings"]}
        assert codes["near_duplicates_across_classes"]["severity"] == "warning"
        split = {e.path: e.split for e in ds.items}
        assert split[str(root / "a" / "0.png")] == split[str(root / "b" / "copy.jpg")]
        assert rep["duplicates"]["across_classes"] == []  # not an exact copy: both stay, listed as a pair


def test_distinct_pictures_are_not_paired(tmp_path):
    ds = scan(tree(tmp_path / "d", per_class=10))
    assert ds.report.duplicates["near"] == []
    assert not any(f.code.startswith("near_") for f in ds.report.findings)


def test_a_near_copy_in_another_split_folder_is_a_leak(tmp_path):
    tree(tmp_path / "train")
    tree(tmp_path / "test", first=50)
    resaved(Image.open(tmp_path / "train" / "a" / "1.png"), tmp_path / "test" / "a" / "again.jpg")
    codes = {f.code for f in scan(tmp_path).report.findings}
    assert "near_duplicates_across_splits" in codes and "near_duplicates" in codes


def test_a_second_scan_takes_hashes_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_STUDIO_DATA", str(tmp_path / "userdata"))
    root = tree(tmp_path / "d")
    calls = []
    real = check_module.perceptual_hash
    monkeypatch.setattr(check_module, "perceptual_hash", lambda im: calls.append(1) or real(im))
    first = scan(root)
    assert len(calls) == 12 and (tmp_path / "userdata" / "cache" / "perceptual_hashes.json").is_file()
    second = scan(root)
    assert len(calls) == 12  # nothing decoded again for the hashes
    assert first.report.duplicates == second.report.duplicates


@pytest.mark.parametrize("quality", [95, 60])
def test_dicom_and_png_of_one_picture_are_near(tmp_path, quality):
    from tests.dicom_files import grey, save

    root = tree(tmp_path / "d")
    img = np.asarray(Image.open(root / "a" / "2.png").convert("L"))
    save(grey(img.astype(np.uint8)), root / "b" / "export.dcm")
    resaved(Image.open(root / "a" / "2.png"), root / "a" / "small.jpg", size=64, quality=quality)
    near = scan(root).report.duplicates["near"]
    assert [str(root / "a" / "2.png"), str(root / "b" / "export.dcm")] in near


def test_small_blocks_find_the_same_pairs(monkeypatch):
    from engine.data import neardupes

    rng = np.random.default_rng(0)
    hashes = [bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex() for _ in range(300)]
    hashes += [hashes[5][:-2] + "00", hashes[299][:-4] + "0000"]  # near copies of two of them
    whole = near_pairs(hashes)
    monkeypatch.setattr(neardupes, "BLOCK_FLOATS", 300 * 10)  # blocks of 8 rows
    assert near_pairs(hashes) == whole and [(i, j) for i, j, _ in whole] == [(5, 300), (299, 301)]


def test_a_chain_of_look_alikes_larger_than_copies_is_reported_not_joined(tmp_path):
    from engine.data.neardupes import cluster_limit

    base = np.asarray(picture(7), dtype=np.int16)
    rng = np.random.default_rng(1)
    root = tmp_path / "d"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(8):  # 16 slight variants of one picture: each is near its neighbours
            noisy = np.clip(base + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(noisy).save(root / cls / f"{i}.png")
    assert cluster_limit(16) == 10
    ds = scan(root)
    assert len(ds.report.duplicates["near"]) > 15
    assert {f.code for f in ds.report.findings} >= {"look_alike_clusters", "near_duplicates_across_classes"}
    assert all(e.group is None for e in ds.items)  # not joined: the split still has val and test
    assert {e.split for e in ds.items} == {"train", "val", "test"}
