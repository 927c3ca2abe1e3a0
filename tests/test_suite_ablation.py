"""A rule switched on the suite's own files (benchmarks/suite_ablation.py), on made-up rows: no training."""
import pytest

from benchmarks import suite_ablation as ab
from benchmarks import suite_accuracy as sa


def _row(row, seed, acc, half="tuning", per_class=10, winner="fine-tune", overrides=None):
    return {"row": row, "half": half, "per_class": per_class, "seed": seed, "accuracy": acc,
            "selection": {"winner": winner}, "overrides": overrides or {}}


def test_overrides_are_runconfig_fields_read_as_json():
    assert ab.parse_overrides(["finetune_blend=0", "refit=false", "monitor=val_accuracy"]) == {
        "finetune_blend": 0, "refit": False, "monitor": "val_accuracy"}
    with pytest.raises(SystemExit, match="RunConfig field"):
        ab.parse_overrides(["no_such_rule=1"])
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        ab.parse_overrides(["refit"])


def test_a_variant_never_writes_the_suites_own_file():
    with pytest.raises(SystemExit, match="its own --out"):
        sa.main(["--set", "refit=false", "--tasks", "digits"])


def test_pairs_and_summary_per_half():
    default = [_row("digits", 0, 80.0), _row("digits", 1, 82.0), _row("glyph-script", 0, 50.0, "confirmation"),
               _row("digits", 2, 70.0)]
    variant = [_row("digits", 0, 79.0, overrides={"refit": False}), _row("digits", 1, 83.5),
               _row("glyph-script", 0, 50.0, "confirmation", winner="linear probe"),
               _row("wesnoth-units", 0, 60.0)]  # no default partner: left out
    ps = ab.pairs(default, variant)
    assert [(p["row"], p["seed"], p["change"]) for p in ps] == [
        ("glyph-script", 0, 0.0), ("digits", 0, -1.0), ("digits", 1, 1.5)]
    assert ab.half_summary([p for p in ps if p["half"] == "tuning"]) == {
        "samples": 2, "mean": 0.2, "worst": -1.0, "best": 1.5, "up": 1, "down": 1, "level": 0}
    text = ab.render(default, {"refit=false": variant})
    assert "## refit=false" in text and '{"refit": false}' in text
    assert "| tuning | 2 | +0.2 | -1.0 | +1.5 | 1 / 0 / 1 |" in text
    assert "| confirmation | glyph-script | 10 | 0 | 50.0 | 50.0 | +0.0 | fine-tune / linear probe |" in text


def test_only_in_measures_just_the_samples_the_default_holds(tmp_path, monkeypatch):
    import json

    default = tmp_path / "default.json"
    default.write_text(json.dumps([_row("digits", 1, 80.0, per_class=50)]))
    measured = []

    def fake_run_row(task, n, seed, work, imbalanced=None, with_baselines=True, overrides=None, ours=True):
        measured.append((task, n, seed, overrides))
        raise RuntimeError("stop here")  # counted, then skipped like any failed sample

    monkeypatch.setattr(sa, "run_row", fake_run_row)
    sa.main(["--tasks", "digits", "--sizes", "10", "50", "--seeds", "0", "1", "--only-in", str(default),
             "--set", "finetune_blend=1", "--out", str(tmp_path / "v.json"), "--md", ""])
    assert measured == [("digits", 50, 1, {"finetune_blend": 1})]
