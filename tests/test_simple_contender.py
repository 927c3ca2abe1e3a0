"""The simple model competes with the network: kept only beyond chance, and then saved like any model."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine import protocol
from engine.classical.contender import mcnemar_p
from tests.test_bundle_support import make_texts, run_isolated
from tests.test_train import make_images, tiny_config


def test_mcnemar_one_sided_exact():
    assert mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(3, 0) == pytest.approx(0.125)  # three disagreements can never be enough
    assert mcnemar_p(5, 0) == pytest.approx(1 / 32)
    assert mcnemar_p(8, 2) == pytest.approx(56 / 1024)  # 8 of 10: p = 0.0547, not beyond chance
    assert mcnemar_p(9, 1) == pytest.approx(11 / 1024)
    assert mcnemar_p(2, 8) > 0.9


@pytest.mark.slow
def test_a_network_that_learned_nothing_loses_to_the_simple_model_which_saves_and_predicts(tmp_path):
    from engine.bundle import verify_bundle
    from engine.bundle.reader import open_predictor
    from engine.cli import main
    from engine.train import train

    data = make_images(tmp_path / "data", per_class=24)  # colour and bar position: easy for raw pixels
    seen = []
    cfg = tiny_config(tmp_path, data, epochs=1, lr=1e-12, head_warmup=False, refit=True, compare_simple=None)
    out = train(cfg, reporter=seen.append)
    run = tmp_path / "runs" / "run"
    info = json.loads((run / "contender.json").read_text())
    simple = info["simple"]
    assert info["winner"] == "simple model" and info["network_winner"] == "fine-tune"
    assert simple["p_value"] < 0.05 and simple["simple_right_network_wrong"] > simple["network_right_simple_wrong"]
    assert simple["val"]["val_accuracy"] > simple["network_val"]["val_accuracy"]
    assert (run / "checkpoints" / "best" / "classical.json").is_file()
    assert (run / "checkpoints" / "network" / "model.safetensors").is_file()  # the network is not thrown away
    assert out["metrics"]["selection"]["winner"] == "simple model"
    assert out["metrics"]["test"]["accuracy"] >= 0.9 and "simple_baseline" not in out["metrics"]
    warnings = [m.text for m in seen if isinstance(m, protocol.Log) and m.level == "warning"]
    assert any("simple model" in w and "McNemar" in w for w in warnings)
    from engine.history.summary import read_summary

    assert read_summary(run).best["score"] == simple["val"]["val_accuracy"]  # the Runs window's figure

    bundle = tmp_path / "simple.tsbundle"
    assert main(["export", str(run), "--out", str(bundle)]) == 0
    manifest = verify_bundle(bundle)
    assert manifest["kind"] == "simple" and manifest["onnx"]["parity"]["max_abs_prob_diff"] <= 1e-4
    card = (bundle / "MODEL_CARD.md").read_text()
    assert "not a neural network" in card and "McNemar" in card
    assert not list(bundle.rglob("*.pkl")) and not list(bundle.rglob("*.pt"))
    from_bundle = open_predictor(bundle).predict_paths([str(data)])
    code = (f"import runpy, sys\nsys.argv = ['predict.py', {str(data)!r}, '--json']\n"
            f"runpy.run_path({str(bundle / 'predict.py')!r}, run_name='__main__')\n")
    done = run_isolated(code, tmp_path)
    assert done.returncode == 0, done.stderr
    from_script = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(from_script) == len(from_bundle) == 72
    for a, b in zip(from_bundle, from_script):
        assert a["path"] == b["path"] and a["decision"] == b["decision"]
        np.testing.assert_allclose([p for _, p in a["top"]], [p for _, p in b["top"]], atol=1e-4)


@pytest.mark.slow
def test_a_network_that_learned_is_kept_and_the_simple_model_is_reported(tmp_path):
    from engine.train import train

    data = make_images(tmp_path / "data", per_class=12)
    out = train(tiny_config(tmp_path, data, epochs=3, compare_simple=True))
    info = json.loads((tmp_path / "runs" / "run" / "contender.json").read_text())
    assert info["winner"] == "fine-tune" and info["simple"]["status"] == "decided"
    assert not (tmp_path / "runs" / "run" / "checkpoints" / "best" / "classical.json").exists()
    assert (tmp_path / "runs" / "run" / "checkpoints" / "simple" / "classical.json").exists()  # scored by benchmarks
    assert out["metrics"]["selection"]["simple"]["p_value"] >= 0.05 or \
        info["simple"]["val"]["val_accuracy"] <= info["simple"]["network_val"]["val_accuracy"]


def test_simple_text_bundle_onnx_and_predict_py_agree_with_the_app(tmp_path):
    """Word counts -> TF-IDF -> logits: the app (numpy), the ONNX graph and predict.py give one answer."""
    from engine.classical.model import WORDS, fit
    from engine.classical import onnx_graph
    from engine.classical.predictor import SimplePredictor, read_inputs
    from engine.bundle import preprocessing as pre
    from engine.bundle.onnx_export import check_parity
    from engine.data.types import Example

    root = make_texts(tmp_path / "texts", per_class=6)
    items = [Example(path=str(p), label=i, split="train", sha256=p.name)
             for i, c in enumerate(sorted(d.name for d in root.iterdir())) for p in sorted((root / c).iterdir())]
    texts, kept = read_inputs(WORDS, items)
    model = fit(WORDS, texts, np.array([items[i].label for i in kept]), ["computers", "food", "law"])
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(sublinear_tf=True)
    ref = LogisticRegression(max_iter=2000).fit(vec.fit_transform(texts), [items[i].label for i in kept])
    predictor = SimplePredictor(model)
    new = ["the judge read the contract", "soup and bread for dinner", "nothing known here", ""]
    np.testing.assert_allclose(predictor.predict_texts(new), ref.predict_proba(vec.transform(new)), atol=1e-9)
    onnx_graph.export(model, tmp_path / "model.onnx")
    batches = [predictor._arrays(new), predictor._arrays(texts)]
    assert check_parity(predictor, tmp_path / "model.onnx", batches)["max_abs_prob_diff"] < 1e-5
    assert pre.word_counts("Court court COURT appeal", model.vocabulary_index()).sum() == 4


def test_a_simple_model_explains_itself_exactly(tmp_path):
    """Its logit is a sum of shares: the words that carry the class's weight come first, and the shares
    (before scaling) add up to the logit without the bias."""
    from engine.classical import explain as linear
    from engine.classical.model import PIXELS, WORDS, fit
    from engine.bundle import preprocessing as pre

    texts = ["court judge verdict", "judge jury appeal", "bread soup dinner", "cheese bread apple"] * 3
    model = fit(WORDS, texts, np.array([0, 0, 1, 1] * 3), ["law", "food"])
    words = linear.word_shares(model, "The Judge ate bread", 0)
    assert [w[0] for w in words] == ["The", "Judge", "ate", "bread"]
    assert max(words, key=lambda w: w[1])[0] == "Judge" and min(words, key=lambda w: w[1])[0] == "bread"
    assert words[1][2:] == [4, 9]  # offsets into the text as written
    counts = pre.word_counts("judge bread judge", model.vocabulary_index())[None]
    z = model.transform(counts)[0]
    assert (model.weight[0] * z).sum() == pytest.approx(model.logits(counts)[0, 0] - model.bias[0])

    rng = np.random.default_rng(0)
    pixels = [rng.random(256) * 0.2 for _ in range(20)]
    for i in range(10):
        pixels[i][:16] = 1.0  # class 0: a bright top row
    fitted = fit(PIXELS, pixels, np.array([0] * 10 + [1] * 10), ["bar", "plain"])
    cam = linear.pixel_shares(fitted, pixels[0], 0)
    assert cam.shape == (16, 16) and cam.max() == 1.0
    assert cam[0].mean() > 4 * cam[1:].mean()  # the evidence for the class sits on the bar it was fitted on
