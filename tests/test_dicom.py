"""DICOM reading: the display pipeline's pixel values, pydicom's own files, and scanning a DICOM tree."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from engine.data import scan
from engine.data.dicom import is_dicom_path, load_any_image, read_dicom
from engine.data.images import ImageProblem
from tests.dicom_files import PYDICOM_FILES, grey, rgb, rle, save, sr, ybr_full_422


def pixels(path, window="file"):
    return np.asarray(read_dicom(path, window))


def test_monochrome1_with_rescale_is_inverted_over_its_full_range(tmp_path):
    # stored 0..300, slope 2, intercept -100 -> -100..500; no window -> the full range; MONOCHROME1: low is white
    p = save(grey(np.array([[0, 100], [200, 300]], np.uint16), photometric="MONOCHROME1", RescaleSlope=2,
                  RescaleIntercept=-100), tmp_path / "m1.dcm")
    out = pixels(p)
    assert out.shape == (2, 2, 3) and (out[..., 0] == out[..., 2]).all()
    assert out[..., 0].tolist() == [[255, 170], [85, 0]]


def test_the_files_own_window_applies_after_the_rescale(tmp_path):
    # values -100, 100, 300, 500 (HU-like) through Window 100/201 (LINEAR: centre 99.5, width 200)
    p = save(grey(np.array([[0, 100], [200, 300]], np.uint16), RescaleSlope=2, RescaleIntercept=-100,
                  WindowCenter=100, WindowWidth=201), tmp_path / "w.dcm")
    expected = np.clip(((np.array([[-100, 100], [300, 500]]) - 99.5) / 200 + 0.5), 0, 1) * 255
    assert np.abs(pixels(p)[..., 0] - expected).max() <= 0.5 + 1e-9
    assert pixels(p, "full")[..., 0].tolist() == [[0, 85], [170, 255]]  # the full range ignores the window


def test_a_voi_lut_sequence_maps_stored_values_through_its_table(tmp_path):
    from pydicom.dataset import Dataset

    ds = grey(np.array([[0, 1], [2, 3]], np.uint16))
    item = Dataset()
    item.LUTDescriptor = [4, 0, 16]
    item.add_new("LUTData", "US", [0, 1000, 3000, 4095])
    ds.VOILUTSequence = [item]
    p = save(ds, tmp_path / "lut.dcm")
    assert pixels(p)[..., 0].tolist() == [[0, 62], [187, 255]]  # table / 4095 * 255


def test_twelve_bits_stored_in_sixteen_ignores_the_high_bits(tmp_path):
    values = np.array([[0, 1000], [4095, 2048]], np.uint16)
    ds = grey(values, bits_stored=12)
    ds.PixelData = (values | 0xF000).tobytes()  # garbage in the 4 unused bits
    out = pixels(save(ds, tmp_path / "b12.dcm"))[..., 0]
    assert out.tolist() == [[0, 62], [255, 128]]


def test_signed_ct_in_hounsfield_units_with_named_presets(tmp_path):
    hu = np.array([[-2000, -1000], [0, 1000]], np.int16)
    p = save(grey(hu, modality="CT", RescaleSlope=1, RescaleIntercept=0, WindowCenter=0, WindowWidth=4001),
             tmp_path / "ct.dcm")

    def linear(c, w):  # DICOM's LINEAR window, written out independently of pydicom
        return np.clip((hu - (c - 0.5)) / (w - 1) + 0.5, 0, 1) * 255

    for window, (c, w) in {"soft_tissue": (40, 400), "lung": (-600, 1500), "bone": (400, 1800),
                           "brain": (40, 80)}.items():
        assert np.abs(pixels(p, window)[..., 0] - linear(c, w)).max() <= 0.5 + 1e-9, window
    assert np.abs(pixels(p)[..., 0] - linear(0, 4001)).max() <= 0.5 + 1e-9  # the file's own window


def test_ct_presets_leave_other_modalities_on_their_own_window(tmp_path):
    p = save(grey(np.array([[0, 100], [200, 300]], np.uint16), modality="MR"), tmp_path / "mr.dcm")
    assert pixels(p, "lung").tolist() == pixels(p, "file").tolist()


def test_multi_frame_uses_the_middle_frame(tmp_path):
    frames = np.array([[[0, 255]], [[255, 0]], [[0, 255]]], np.uint8)
    assert pixels(save(grey(frames), tmp_path / "mf.dcm"))[..., 0].tolist() == [[255, 0]]


def test_rgb_planar_configuration_and_ybr_full_422(tmp_path):
    arr = (np.arange(12, dtype=np.uint8).reshape(2, 2, 3) * 20)
    assert (pixels(save(rgb(arr, planar=1), tmp_path / "planar.dcm")) == arr).all()
    assert (pixels(save(rgb(arr, planar=0), tmp_path / "interleaved.dcm")) == arr).all()
    out = pixels(save(ybr_full_422(100, 90, 200), tmp_path / "ybr.dcm"))
    # ITU-R BT.601 full range, as PS3.3 C.7.6.3.1.2 defines YBR_FULL
    r, g, b = 100 + 1.402 * 72, 100 - 0.344136 * -38 - 0.714136 * 72, 100 + 1.772 * -38
    assert np.abs(out.reshape(-1, 3) - np.array([r, g, b])).max() <= 1.0


def test_rle_compressed_reads_like_the_uncompressed_file(tmp_path):
    arr = np.array([[0, 100, 7], [200, 300, 9]], np.uint16)
    plain = save(grey(arr), tmp_path / "plain.dcm")
    packed = save(rle(grey(arr)), tmp_path / "rle.dcm")
    assert (pixels(packed) == pixels(plain)).all()


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm",
                                  "MR_small_jp2klossless.dcm", "JPEG2000.dcm", "JPGExtended.dcm",
                                  "SC_rgb_jpeg_gdcm.dcm", "SC_rgb_dcmtk_+eb+cy+np.dcm", "examples_palette.dcm",
                                  "rtdose.dcm", "SC_ybr_full_422_uncompressed.dcm", "image_dfl.dcm"])
def test_pydicoms_own_files_that_decode(name):
    im = read_dicom(PYDICOM_FILES / name)
    assert im.mode == "RGB" and im.width > 0


def test_pydicom_lossless_files_decode_to_the_same_pixels_as_the_uncompressed_one():
    base = pixels(PYDICOM_FILES / "MR_small.dcm")
    for name in ("MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"):
        assert (pixels(PYDICOM_FILES / name) == base).all(), name


@pytest.mark.parametrize("name,code,words", [
    ("test-SR.dcm", "dicom_not_image", "Comprehensive SR Storage"),
    ("rtstruct.dcm", "dicom_not_image", "RT Structure Set"),
    ("JPEG-lossy.dcm", "dicom_undecodable", "JPEG Extended (Process 2 and 4)"),
    ("MR_truncated.dcm", "truncated", "ends early"),
])
def test_pydicoms_own_files_that_are_refused_say_why(name, code, words):
    with pytest.raises(ImageProblem) as info:
        read_dicom(PYDICOM_FILES / name)
    assert info.value.code == code and words in str(info.value)


def test_dicom_is_recognised_by_content_without_an_extension(tmp_path):
    p = save(grey(np.zeros((2, 2), np.uint8)), tmp_path / "IM000123")
    png_named = tmp_path / "notes.txt"
    png_named.write_text("hello")
    assert is_dicom_path(p) and not is_dicom_path(png_named)
    assert load_any_image(p).size == (2, 2)


def test_a_dicom_tree_scans_with_skipped_objects_named(tmp_path):
    for cls, value in (("normal", 10), ("abnormal", 200)):
        for i in range(4):
            arr = np.full((8, 8), value + i, np.uint16)
            arr[0, 0] = 0
            save(grey(arr, photometric="MONOCHROME1", RescaleSlope=1, RescaleIntercept=-50,
                      patient_id=f"{cls}-{i}"), tmp_path / cls / f"IM{i:04d}")  # no extension, as from a PACS
    save(rle(grey(np.arange(64, dtype=np.uint16).reshape(8, 8))), tmp_path / "normal" / "compressed.dcm")
    save(sr(), tmp_path / "abnormal" / "report.dcm")
    shutil.copy(PYDICOM_FILES / "JPEG-lossy.dcm", tmp_path / "abnormal" / "broken.dcm")
    (tmp_path / "normal" / "DICOMDIR").write_bytes(b"\0" * 128 + b"DICM")
    ds = scan(tmp_path)
    rep = ds.report.to_dict()
    assert {c["name"]: c["count"] for c in rep["classes"]} == {"abnormal": 4, "normal": 5}
    skipped = {s["path"].rsplit("/", 1)[-1]: s for s in rep["skipped"]}
    assert skipped["report.dcm"]["code"] == "dicom_not_image"
    assert skipped["broken.dcm"]["code"] == "dicom_undecodable" and "JPEG Extended" in skipped["broken.dcm"]["reason"]
    assert any(i["code"] == "dicomdir" for i in rep["ignored"])
    assert rep["image"]["dicom"]["files"] == 9 and rep["image"]["dicom"]["multi_frame_files"] == 0
    codes = {f["code"] for f in rep["findings"]}
    assert {"dicom_not_image", "dicom_undecodable", "dicomdir"} <= codes


@pytest.mark.parametrize("window", ["file", "full", "lung", "bone"])
def test_the_bundles_predict_py_makes_the_engines_exact_input_in_every_window(tmp_path, window):
    import runpy

    from engine.bundle.writer import predict_script
    from engine.inference import Predictor

    hu = np.random.default_rng(1).integers(-1500, 2000, (40, 30)).astype(np.int16)
    p = save(grey(hu, modality="CT", RescaleSlope=1, RescaleIntercept=0, WindowCenter=40, WindowWidth=400,
                  photometric="MONOCHROME1"), tmp_path / "ct")  # no extension
    script = tmp_path / "predict.py"
    script.write_text(predict_script("image"))
    bundle = runpy.run_path(str(script), run_name="not_main")  # its own embedded decoders, not the engine's
    pp = {"input_size": 32, "crop_pct": 0.875, "interpolation": "bicubic", "mean": [0.5] * 3, "std": [0.25] * 3,
          "dicom_window": window}
    engine_input = Predictor.__new__(Predictor)
    engine_input.modality, engine_input.preprocess = "image", pp
    ours = engine_input._prepare(str(p))
    theirs = bundle["preprocess_image"](bundle["load_any_image"](str(p), window=pp["dicom_window"]), pp)
    assert bundle["load_any_image"].__module__ != "engine.data.dicom"
    assert ours.shape == (3, 32, 32) and np.array_equal(ours, theirs)
    files, _ = bundle["collect_inputs"]([str(tmp_path)], bundle["IMAGE_EXTS"] | bundle["DICOM_EXTS"],
                                        bundle["sniff_dicom"])
    assert files == [str(p)]  # found by content, though it has no extension


def test_the_report_counts_multi_frame_files_and_names_the_frame_policy(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        for i in range(3):
            frames = rng.integers(0, 255, (3 if i == 0 else 1, 8, 8)).astype(np.uint8)
            save(grey(frames if i == 0 else frames[0], patient_id=f"{cls}{i}"), tmp_path / cls / f"{i}.dcm")
    rep = scan(tmp_path).report.to_dict()
    assert rep["image"]["dicom"]["multi_frame_files"] == 2
    finding = {f["code"]: f for f in rep["findings"]}["dicom_multi_frame"]
    assert "middle frame" in finding["message"] and finding["severity"] == "info"


def test_a_dicomdir_is_read_as_the_exports_index(tmp_path):
    src = PYDICOM_FILES / "dicomdirtests"
    root = tmp_path / "export"
    for cls in ("a", "b"):
        for i in range(2):
            save(grey(np.random.default_rng(10 * len(cls) + i).integers(0, 255, (8, 8)).astype(np.uint8),
                      patient_id=f"{cls}{i}"), root / cls / f"IM{i}")
    shutil.copy(src / "DICOMDIR", root / "DICOMDIR")  # at the top, as exports put it; lists 31 images
    shutil.copy(src / "DICOMDIR", root / "a" / "DICOMDIR")  # and one inside a class folder, files beside it
    shutil.copytree(src / "77654033", root / "a" / "77654033")
    present = sum(1 for p in (root / "a" / "77654033").rglob("*") if p.is_file())
    rep = scan(root).report.to_dict()
    index = {i["path"]: i["reason"] for i in rep["ignored"] if i["code"] == "dicomdir"}
    assert "lists 31 images, 31 of them missing" in index[str(root / "DICOMDIR")]
    assert f"lists 31 images, {31 - present} of them missing" in index[str(root / "a" / "DICOMDIR")]
    assert "lists 31 images" in {f["code"]: f for f in rep["findings"]}["dicomdir"]["message"]
    assert {c["name"] for c in rep["classes"]} == {"a", "b"}
