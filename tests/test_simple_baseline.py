"""The simple baseline beside the model: scored on the same split, kept in metrics.json, a warning when it wins."""
import json

from engine import protocol
from engine.data.types import Example
from engine.evaluate.simple_baseline import fit_and_score
from tests.test_train import make_images, tiny_config


def test_a_model_that_learned_nothing_is_flagged_by_the_baseline(tmp_path):
    from engine.train import train

    data = make_images(tmp_path / "data", per_class=12)  # colour and bar position: easy for raw pixels
    seen = []
    out = train(tiny_config(tmp_path, data, epochs=1, lr=1e-12, head_warmup=False, refit=False), reporter=seen.append)
    base = out["metrics"]["simple_baseline"]
    assert base["split"] == "test" and base["scored_examples"] == out["metrics"]["test"]["n"]
    assert base["train_examples"] > base["scored_examples"]
    assert base["accuracy"] > out["metrics"]["test"]["accuracy"]
    saved = json.loads((tmp_path / "runs" / "run" / "metrics.json").read_text())
    assert saved["simple_baseline"] == base
    warnings = [m.text for m in seen if isinstance(m, protocol.Log) and m.level == "warning"]
    assert any("simple baseline" in w and "pixels" in w for w in warnings)


def _texts(tmp_path, words, split):
    items = []
    for label, word in enumerate(words):
        for i in range(4):
            p = tmp_path / f"{split}-{label}-{i}.txt"
            p.write_text(f"some words about {word} number {i}")
            items.append(Example(path=str(p), label=label, split=split, sha256=str(i)))
    return items


def test_text_baseline_reads_the_words_and_needs_two_classes(tmp_path):
    train, test = _texts(tmp_path, ["cats", "stocks"], "train"), _texts(tmp_path, ["cats", "stocks"], "test")
    result = fit_and_score("text", train, test)
    assert result["accuracy"] == 1.0 and result["train_examples"] == 8 and "TF-IDF" in result["method"]
    assert fit_and_score("text", [e for e in train if e.label == 0], test) is None


def test_unreadable_images_are_skipped_not_fatal(tmp_path):
    make_images(tmp_path / "d", classes=2, per_class=6)
    items = [Example(path=str(p), label=int(p.parent.name[-1]), split="train", sha256=p.name)
             for p in sorted((tmp_path / "d").rglob("*.png"))]
    bad = tmp_path / "d" / "class_0" / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    items.append(Example(path=str(bad), label=0, split="train", sha256="x"))
    result = fit_and_score("image", items, items)
    assert result["train_examples"] == 12 and result["accuracy"] == 1.0


def test_a_failing_baseline_never_costs_the_model_its_scores(monkeypatch):
    from engine.evaluate import simple_baseline

    def boom(*a, **k):
        raise RuntimeError("reader exploded")

    monkeypatch.setattr(simple_baseline, "fit_and_score", boom)
    seen = []

    class Data:
        modality = "image"

        def split(self, name):
            return []

    assert simple_baseline.compare(Data(), {"test": {"accuracy": 0.5}}, seen.append) is None
    assert any("could not be computed (reader exploded)" in m.text for m in seen)
