"""A binary run's decision rule (positive class, threshold, temperature) travels into the bundle
and every consumer applies it: the engine's predictor, `transfer-studio predict`, the bundle's
predict.py, and onnxruntime following the README's two steps (issue 22)."""
import json
import shutil

import numpy as np
import pytest

from engine.cli import main
from tests.test_bundle_support import _config, _fit, _splits, _write_run, cached, make_images, run_isolated

CLASSES = ("blue", "green")


def build_binary_run(base):
    """runs/bin: timm test_efficientnet fitted briefly on blue vs green images (red removed)."""
    import timm
    import torch

    from engine.bundle.preprocessing import preprocess_image
    from engine.data.images import load_image

    data = make_images(base / "images", per_class=16, seed=4)
    shutil.rmtree(data / "red")
    splits = _splits(data, CLASSES, (".png", ".jpg"), "image")
    pp = {"input_size": 40, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
          "interpolation": "bilinear", "crop_pct": 0.9}
    torch.manual_seed(0)
    model = timm.create_model("test_efficientnet", pretrained=False, num_classes=2)
    x = torch.from_numpy(np.stack([preprocess_image(load_image(p), pp) for p, _, _ in splits["train"]]))
    y = torch.tensor([lbl for _, lbl, _ in splits["train"]])
    _fit(model, lambda: torch.nn.functional.cross_entropy(model(x), y), 25)
    meta = {"format": "transfer-studio-run-model", "version": 1, "backbone": "test_tiny_cnn", "source": "timm",
            "arch": "test_efficientnet", "modality": "image", "classes": list(CLASSES), "num_classes": 2,
            "freeze": 0, "preprocess": pp, "weights_origin": "random-init"}
    run = base / "runs" / "bin"
    _write_run(run, model, meta, splits, _config(data, "test_tiny_cnn", input_size=40))
    return run


@pytest.fixture
def binary_run(tmp_path_factory):
    return cached("binary_run", build_binary_run, tmp_path_factory)


def test_rule_is_chosen_on_validation_cached_and_changed_without_inference(binary_run, tmp_path, monkeypatch):
    from engine.evaluate import evaluate_run
    from engine.evaluate.cached import load_predictions, reconsider
    from engine.evaluate.clinical import Options

    run = shutil.copytree(binary_run, tmp_path / "run")
    m = evaluate_run(run, options=Options(positive="blue", method="sensitivity", target=0.75))
    rule = m["clinical"]["decision"]
    assert rule["positive_class"] == "blue" and rule["method"] == "sensitivity"
    assert m["clinical"]["test"]["at_threshold"]["n"] == m["test"]["n"] == 8
    classes, splits = load_predictions(run)
    assert classes == list(CLASSES) and len(splits["val"].y) == 8
    json.dumps(m, allow_nan=False)

    import engine.inference

    def no_inference(*a, **k):
        raise AssertionError("the model ran again")

    monkeypatch.setattr(engine.inference.Predictor, "predict_detailed", no_inference)
    again = reconsider(run, Options(positive="green", method="cost", cost_ratio=4))
    assert again["clinical"]["decision"]["positive_class"] == "green"
    assert json.loads((run / "metrics.json").read_text())["clinical"] == again["clinical"]
    assert json.loads((run / "operating.json").read_text())["positive"] == "green"


def test_engine_cli_predict_script_and_onnxruntime_agree_with_a_non_default_rule(binary_run, tmp_path, capsys):
    from engine.bundle import load_bundle
    from engine.bundle.onnx_export import onnx_session
    from engine.bundle.preprocessing import preprocess_image
    from engine.data.images import load_image
    from engine.evaluate.cached import reconsider
    from engine.evaluate.clinical import Options
    from engine.evaluate import evaluate_run

    run = shutil.copytree(binary_run, tmp_path / "run")
    evaluate_run(run)
    reconsider(run, Options(positive="green", method="specificity", target=0.75))
    bundle = tmp_path / "bin.tsbundle"
    assert main(["export", str(run), "--out", str(bundle)]) == 0
    rule = json.loads((bundle / "decision.json").read_text())
    assert rule["positive_class"] == "green" and rule["temperature"] != 1.0 and rule["threshold"] != 0.5
    assert "decision.json" in json.loads((bundle / "manifest.json").read_text())["files"]
    card = (bundle / "MODEL_CARD.md").read_text()
    assert "## Decision threshold and calibration" in card and "Positive class: **green**" in card
    assert 'rule["temperature"]' in (bundle / "README.md").read_text()

    new = make_images(tmp_path / "new", per_class=5, seed=11)
    shutil.rmtree(new / "red")
    engine_rows = load_bundle(bundle).predict_paths([str(new)], top_k=2)
    capsys.readouterr()
    assert main(["predict", "--model", str(bundle), str(new), "--json", "--top-k", "2"]) == 0
    cli_rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    code = (f"import runpy, sys\nsys.argv = ['predict.py', {str(new)!r}, '--json', '--top-k', '2']\n"
            f"runpy.run_path({str(bundle / 'predict.py')!r}, run_name='__main__')\n")
    done = run_isolated(code, tmp_path)
    assert done.returncode == 0, done.stderr
    script_rows = [json.loads(line) for line in done.stdout.splitlines()]

    # onnxruntime by hand, following the README: softmax(logits / T), then the threshold
    pp = json.loads((bundle / "preprocess.json").read_text())
    session = onnx_session(bundle / "model.onnx")
    paths = [r["path"] for r in engine_rows]
    logits = session.run(["logits"], {"pixel_values": np.stack([preprocess_image(load_image(p), pp) for p in paths])})[0]
    z = logits / rule["temperature"]
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    pos = list(CLASSES).index("green")
    onnx_decisions = [CLASSES[pos] if q[pos] >= rule["threshold"] else CLASSES[1 - pos] for q in p]

    assert len(engine_rows) == len(cli_rows) == len(script_rows) == 10
    for i, (a, b, c) in enumerate(zip(engine_rows, cli_rows, script_rows)):
        assert a["path"] == b["path"] == c["path"] == paths[i]
        assert a["decision"] == b["decision"] == c["decision"] == onnx_decisions[i]
        for row in (b, c):
            assert row["threshold"] == a["threshold"] == rule["threshold"]
            assert row["positive_probability"] == pytest.approx(a["positive_probability"], abs=1e-4)
        assert a["positive_probability"] == pytest.approx(p[i, pos], abs=1e-4)
        np.testing.assert_allclose([q for _, q in a["top"]], [q for _, q in c["top"]], atol=1e-4)


def test_cli_evaluate_takes_the_positive_class_and_threshold_method(binary_run, tmp_path, capsys):
    run = shutil.copytree(binary_run, tmp_path / "run")
    assert main(["evaluate", "--model", str(run), "--positive", "blue", "--threshold-method", "specificity",
                 "--target", "0.7"]) == 0
    out = capsys.readouterr().out
    assert "Positive class: blue. blue is positive because you chose it." in out
    assert "target specificity" not in out and "validation specificity at or above 70%" in out
    assert "Sensitivity" in out and "ECE" in out
    assert json.loads((run / "operating.json").read_text())["method"] == "specificity"
    assert main(["evaluate", "--model", str(run), "--positive", "purple"]) == 2
    assert "no class named 'purple'" in capsys.readouterr().err


def test_a_bundle_refuses_a_new_rule_without_data(binary_run, tmp_path, capsys):
    from engine.evaluate import evaluate_run

    run = shutil.copytree(binary_run, tmp_path / "run")
    evaluate_run(run)
    assert main(["export", str(run), "--out", str(tmp_path / "b.tsbundle")]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--model", str(tmp_path / "b.tsbundle"), "--positive", "blue"]) == 2
    assert "keeps the rule it was exported with" in capsys.readouterr().err
