"""Explanations (issue 23): every image backbone's Grad-CAM layer, the cache, text word scores,
the engine request and `transfer-studio explain`. The honesty tests are in test_explain_honesty.py."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine import protocol
from engine.backbones import all_specs
from tests.test_bundle_support import image_bundle, image_run, text_bundle, text_run  # noqa: F401

IMAGE_SPECS = [s for s in all_specs(include_hidden=True) if s.modality == "image"]


@pytest.mark.parametrize("spec", IMAGE_SPECS, ids=[s.id for s in IMAGE_SPECS])
def test_every_image_backbone_names_a_layer_that_yields_a_map_of_the_input_size(spec):
    import torch

    from engine.backbones import build_model
    from engine.explain.image_maps import cam_target, grad_cam

    assert spec.cam_layer, f"{spec.id} has no cam_layer"
    torch.manual_seed(0)
    model = build_model(spec, 3, weights=None).eval()
    assert spec.cam_layer in dict(model.named_modules())
    size = 224 if spec.fixed_input_size else 64
    model, layer = cam_target(model, spec.cam_layer, spec.cam_reshape)
    cam = grad_cam(model, layer, torch.randn(1, 3, size, size), target=1)
    assert cam.shape == (size, size) and cam.dtype == np.float32
    assert np.isfinite(cam).all() and 0.0 <= cam.min() and cam.max() <= 1.0
    assert cam.max() in (0.0, 1.0)  # scaled by its peak (all zero when nothing spoke for the class)


def test_a_transformer_wrapped_for_grad_cam_computes_the_same_outputs():
    import torch

    from engine.backbones import build_model, get_spec
    from engine.explain.image_maps import cam_target

    spec = get_spec("vit_b_16")
    torch.manual_seed(0)
    model = build_model(spec, 2, weights=None).eval()
    wrapped, layer = cam_target(model, spec.cam_layer, spec.cam_reshape)
    x = torch.randn(1, 3, 224, 224)
    seen = {}
    layer.register_forward_hook(lambda m, i, o: seen.update(shape=tuple(o.shape)))
    with torch.no_grad():
        assert torch.allclose(model(x), wrapped(x), atol=1e-5)
    assert seen["shape"] == (1, 768, 14, 14)
    assert "TokensToGrid" not in repr(model)  # the app's model is left as it was


def test_image_explanations_are_files_and_are_cached_per_model_file_and_class(image_run, tmp_path):
    from PIL import Image

    from engine.explain import Explainer

    explainer = Explainer(image_run)
    path = json.loads((image_run / "splits.json").read_text())["test"][0][0]
    first = explainer.explain(path)
    assert not first["cached"] and first["target"] == first["predicted"]
    assert first["method"] == protocol.ExplainMethod.GRADCAM
    for key in ("base", "heat", "overlay"):
        with Image.open(first[key]) as im:
            assert im.size == (48, 48)  # the model's view: its centre crop at its input size
    assert np.load(first["map"], allow_pickle=False).shape == (48, 48)
    again = explainer.explain(path)
    assert again["cached"] and again["overlay"] == first["overlay"]
    other = explainer.explain(path, target=(first["target"] + 1) % 3)
    assert not other["cached"] and other["overlay"] != first["overlay"]
    # a copy of the same bytes elsewhere is the same input
    copy = tmp_path / ("copy" + path[path.rfind("."):])
    copy.write_bytes(open(path, "rb").read())
    assert explainer.explain(str(copy))["cached"]


def test_a_bundle_is_explained_like_its_run_without_writing_into_it(image_bundle, image_run):
    from engine.bundle.manifest import verify_bundle
    from engine.explain import explain_paths

    before = sorted(p.name for p in image_bundle.iterdir())
    files = [p for p, _, _ in json.loads((image_run / "splits.json").read_text())["test"][:2]]
    items = explain_paths(image_bundle, files + ["/nonexistent/x.png"])
    assert [i.get("error") is None for i in items] == [True, True, False]
    from_run = explain_paths(image_run, files)
    assert [i["predicted"] for i in items[:2]] == [i["predicted"] for i in from_run]
    assert all(i["modality"] == "image" for i in items[:2])
    assert sorted(p.name for p in image_bundle.iterdir()) == before
    verify_bundle(image_bundle)


def test_text_words_are_scored_in_place(text_run):
    from engine.explain import Explainer

    explainer = Explainer(text_run)
    path = json.loads((text_run / "splits.json").read_text())["test"][0][0]
    info = explainer.explain(path)
    assert info["method"] == protocol.ExplainMethod.INTEGRATED_GRADIENTS
    words = info["words"]
    assert words and all(info["text"][s:e] == w for w, _, s, e in words)
    assert max(abs(score) for _, score, _, _ in words) == pytest.approx(1.0)
    assert info["delta"] < 0.05  # integrated gradients' completeness: the scores add up to the logit change
    assert explainer.explain(path)["cached"]


def test_a_table_rows_text_comes_from_the_runs_splits(text_run, tmp_path):
    import shutil

    from engine.explain import explain_paths

    run = shutil.copytree(text_run, tmp_path / "run")
    table = tmp_path / "notes.csv"
    table.write_text("text,label\ncourt judge verdict,law\n", encoding="utf-8")
    splits = json.loads((run / "splits.json").read_text())
    splits["texts"] = {f"{table}#row=1": "court judge verdict"}
    (run / "splits.json").write_text(json.dumps(splits))
    good, missing = explain_paths(run, [f"{table}#row=1", f"{table}#row=2"])
    assert good["text"] == "court judge verdict" and [w for w, *_ in good["words"]] == ["court", "judge", "verdict"]
    assert "did not train on" in missing["error"]


def test_the_engine_answers_explain_with_file_paths(image_run):
    from engine.server import REQUESTS, Server

    path = json.loads((image_run / "splits.json").read_text())["val"][0][0]
    reply = REQUESTS[protocol.Explain](Server.__new__(Server), protocol.Explain(model=str(image_run), paths=[path],
                                                                              target=0))
    assert isinstance(reply, protocol.Explained)
    item = reply.items[0]
    assert item["target"] == 0 and item["target_label"] == "blue"
    line = protocol.encode(reply, 1)
    assert len(line) < 4000  # maps travel as files, not arrays
    assert protocol.decode(line).message.items == reply.items


def test_cli_writes_overlays_and_word_scores(image_run, text_run, tmp_path, capsys):
    from engine.cli import main

    images = json.loads((image_run / "splits.json").read_text())["test"]
    assert main(["explain", "--model", str(image_run), images[0][0], images[1][0], "--out", str(tmp_path / "img"),
                 "--class", "green", "--maps"]) == 0
    pngs = sorted((tmp_path / "img").glob("*.png"))
    assert len(pngs) == 2 and all(p.name.endswith(".green.png") for p in pngs)
    assert len(list((tmp_path / "img").glob("*.npy"))) == 2
    text = json.loads((text_run / "splits.json").read_text())["test"][0][0]
    assert main(["explain", "--model", str(text_run), text, "--out", str(tmp_path / "txt")]) == 0
    (out,) = (tmp_path / "txt").glob("*.json")
    data = json.loads(out.read_text())
    assert data["words"] and data["method"] == "integrated_gradients"
    assert main(["explain", "--model", str(image_run), images[0][0], "--out", str(tmp_path), "--class", "purple"]) == 2
    assert "no class 'purple'" in capsys.readouterr().err


@pytest.mark.parametrize("fixture", ["image_run", "text_run"])
def test_the_report_shows_what_the_model_looked_at_for_its_most_confident_errors(fixture, request, tmp_path):
    import shutil

    from engine.evaluate import evaluate_run
    from engine.report import write_report

    run = shutil.copytree(request.getfixturevalue(fixture), tmp_path / "run")
    metrics = evaluate_run(run)
    test = metrics["test"]
    if not test.get("confident_errors"):  # the fitted fixtures may make none: list one as evaluation would
        path, label, _ = json.loads((run / "splits.json").read_text())["test"][0]
        classes = metrics["classes"]
        test["confident_errors"] = [{"path": path, "true": classes[label], "predicted": classes[(label + 1) % 3],
                                     "probability": 0.9}]
        (run / "metrics.json").write_text(json.dumps(metrics))
    html = write_report(run, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Examples of errors" in html and "(no map)" not in html
    if fixture == "image_run":
        assert "<th>Looked at</th>" in html and html.count('alt="map"') == len(test["confident_errors"][:12])
    else:
        assert "<span style='background-color: rgba(" in html  # the words that pushed it, tinted


def test_a_real_engine_process_explains_a_run_and_a_bundle(image_run, image_bundle, tmp_path, monkeypatch):
    """`python -m engine` as the app starts it: Explain in, Explained out, the PNGs on disk, stdout clean."""
    import os

    from PIL import Image

    from engine.selftest import EngineProcess

    path = json.loads((image_run / "splits.json").read_text())["test"][0][0]
    monkeypatch.setenv("TRANSFER_STUDIO_DATA", str(tmp_path / "data"))  # the child's cache goes here
    with open(os.devnull, "wb") as err:
        eng = EngineProcess(stderr=err)
        try:
            eng.wait_for(protocol.Hello, timeout=60)
            for model in (image_run, image_bundle):
                seq = eng.send(protocol.Explain(model=str(model), paths=[path], target=1))
                reply = eng.wait_for(protocol.Explained, lambda m, s=seq: m.request_seq == s, timeout=180)
                item = reply.items[0]
                assert item["target"] == 1 and item["overlay"].startswith(str(tmp_path / "data"))
                with Image.open(item["overlay"]) as im:
                    assert im.size == (48, 48)
        finally:
            assert eng.close(timeout=60) == 0
    assert eng.bad_lines == []
