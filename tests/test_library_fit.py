"""Pure checks of tensor matching, backbone guessing and cache scanning (no subprocesses)."""
import json

import pytest

from engine.library.fit import FitError, check_fit
from engine.library.guess import guess_backbone, scan_caches

EXPECTED = [["conv.weight", [8, 3, 3, 3], "float32"], ["bn.weight", [8], "float32"],
            ["bn.num_batches_tracked", [], "int64"], ["fc.weight", [1000, 8], "float32"],
            ["fc.bias", [1000], "float32"]]
HEAD = ("fc",)


def test_exact_names_fit():
    fit = check_fit(EXPECTED, EXPECTED, HEAD)
    assert fit.method == "names"
    assert fit.mapping == {n: n for n, _, _ in EXPECTED}
    assert fit.file_num_classes == 1000 and not fit.head_differs


def test_wrapper_prefix_is_stripped_and_head_may_have_other_classes():
    found = [["module." + n, [10, 8] if n == "fc.weight" else ([10] if n == "fc.bias" else s), d]
             for n, s, d in EXPECTED]
    fit = check_fit(found, EXPECTED, HEAD)
    assert fit.mapping["module.conv.weight"] == "conv.weight"
    assert fit.head_differs and fit.file_num_classes == 10


def test_missing_num_batches_tracked_is_tolerated_but_missing_weights_are_not():
    fit = check_fit([t for t in EXPECTED if "num_batches" not in t[0]], EXPECTED, HEAD)
    assert fit.missing == ["bn.num_batches_tracked"]
    with pytest.raises(FitError, match=r"1 of the 5 tensors .* not in it \(e\.g\. bn\.weight\)"):
        check_fit([t for t in EXPECTED if t[0] != "bn.weight"], EXPECTED, HEAD, allow_order=False)


def test_body_shape_mismatch_is_refused_with_the_tensor_named():
    found = [[n, [16, 3, 3, 3] if n == "conv.weight" else s, d] for n, s, d in EXPECTED]
    with pytest.raises(FitError, match=r"does not fit net: .*conv\.weight is \[16, 3, 3, 3\] in the file but \[8, 3, 3, 3\] in net"):
        check_fit(found, EXPECTED, HEAD, label="x.pth", arch="net")


def test_integer_tensor_where_floats_belong_is_refused():
    found = [[n, s, "int64" if n == "conv.weight" else d] for n, s, d in EXPECTED]
    with pytest.raises(FitError, match="another kind of number"):
        check_fit(found, EXPECTED, HEAD, allow_order=False)


def test_other_names_in_the_same_order_map_by_position_only_when_every_shape_lines_up():
    found = [["_" + n.replace(".", "_x."), s, d] for n, s, d in EXPECTED]
    fit = check_fit(found, EXPECTED, HEAD)
    assert fit.method == "order"
    assert list(fit.mapping.values()) == [n for n, _, _ in EXPECTED]
    swapped = [found[1], found[0]] + found[2:]
    with pytest.raises(FitError):
        check_fit(swapped, EXPECTED, HEAD)
    with pytest.raises(FitError):
        check_fit(found, EXPECTED, HEAD, allow_order=False)


def test_hf_base_model_keys_fit_a_classification_model():
    expected = [["bert.embeddings.word_embeddings.weight", [10, 4], "float32"],
                ["bert.pooler.dense.weight", [4, 4], "float32"],
                ["classifier.weight", [2, 4], "float32"], ["classifier.bias", [2], "float32"]]
    found = [["embeddings.word_embeddings.weight", [10, 4], "float32"], ["pooler.dense.weight", [4, 4], "float32"],
             ["cls.predictions.bias", [10], "float32"]]
    fit = check_fit(found, expected, ("classifier",), allow_order=False)
    assert fit.mapping == {"embeddings.word_embeddings.weight": "bert.embeddings.word_embeddings.weight",
                           "pooler.dense.weight": "bert.pooler.dense.weight"}
    assert fit.dropped == ["cls.predictions.bias"]


def test_empty_file_is_refused():
    with pytest.raises(FitError, match="holds no tensors"):
        check_fit([], EXPECTED, HEAD)


@pytest.mark.parametrize("name, expected", [
    ("resnet18-f37072fd.pth", "resnet18"),
    ("resnet50-11ad3fa6.pth", "resnet50"),
    ("efficientnet-lite0-57934424.pth", "efficientnet_lite0"),
    ("ResNet18.safetensors", "resnet18"),
    ("mobilenet_v3_large.bin", "mobilenet_v3_large"),
    ("my_weights.pth", None),
])
def test_guess_from_file_names(tmp_path, name, expected):
    p = tmp_path / name
    p.write_bytes(b"x")
    assert guess_backbone(p) == expected


def test_guess_from_hf_folder_config_and_cache_path(tmp_path):
    folder = tmp_path / "some-folder"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"_name_or_path": "distilbert-base-uncased"}))
    assert guess_backbone(folder) == "distilbert_base_uncased"
    snap = tmp_path / "models--FacebookAI--roberta-base" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    assert guess_backbone(snap) == "roberta_base"


def test_scan_finds_torch_hub_and_hf_cache_entries(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / "resnet18-f37072fd.pth").write_bytes(b"0" * 100)
    (hub / "notes.txt").write_text("not weights")
    snap = tmp_path / "hf" / "models--google-bert--bert-base-uncased" / "snapshots" / "deadbeef"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    (snap / "model.safetensors").write_bytes(b"1" * 50)
    found = scan_caches(in_library={"resnet18"})
    by_kind = {f["kind"]: f for f in found}
    assert len(found) == 2
    assert by_kind["torch_hub_cache"]["backbone"] == "resnet18" and by_kind["torch_hub_cache"]["in_library"]
    assert by_kind["torch_hub_cache"]["size_bytes"] == 100
    assert by_kind["hf_cache"]["backbone"] == "bert_base_uncased" and not by_kind["hf_cache"]["in_library"]
    assert by_kind["hf_cache"]["path"] == str(snap)
