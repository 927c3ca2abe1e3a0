"""The accuracy benchmark's table: merged samples and the means beside the baselines."""
from benchmarks.accuracy import merged, render_markdown, summarise


def _row(modality, n, seed, acc, probe=60.0, ft=65.0, at="2026-12-01 10:00", **more):
    return {"modality": modality, "per_class": n, "seed": seed, "accuracy": acc, "cpu_s": 10.0,
            "measured_at": at, "baseline_probe": 61.3, "baseline_finetune": 68.4,
            "measured": {"probe": {"accuracy": probe, "cpu_s": 5.0}, "finetune": {"accuracy": ft, "cpu_s": 20.0}},
            "backbone": "b", "freeze": 1, "epochs": 5, "input_size": None, "max_length": 128, **more}


def test_merge_replaces_only_the_samples_measured_again():
    kept = [_row("text", 10, 0, 70.0), _row("text", 10, 1, 71.0), _row("image", 10, 0, 50.0)]
    new = [_row("text", 10, 1, 90.0, at="2026-12-02 10:00"), _row("text", 10, 2, 80.0)]
    rows = merged(kept, new)
    assert [(r["modality"], r["seed"], r["accuracy"]) for r in rows] == [
        ("image", 0, 50.0), ("text", 0, 70.0), ("text", 1, 90.0), ("text", 2, 80.0)]


def test_summary_means_wins_and_dates_over_every_sample():
    rows = [_row("text", 10, 0, 70.0, probe=60.0, ft=72.0), _row("text", 10, 1, 64.0, probe=66.0, ft=62.0,
                                                               at="2026-12-02 09:00", best_epoch=2, epochs_run=5)]
    (s,) = summarise(rows)
    assert (s["accuracy"], s["probe"], s["finetune"], s["better"], s["wins"]) == (67.0, 63.0, 67.0, 67.0, 0)
    md = render_markdown(rows, {})
    assert "2026-12-01 10:00 to 2026-12-02 09:00" in md
    assert "**67.0** (64.0-70.0)" in md and "| 2 / 5 |" in md


def test_measuring_ours_again_keeps_the_baselines_of_the_same_files():
    kept = [_row("image", 10, 0, 70.0, probe=68.0, ft=66.0, at="2026-12-01 10:00")]
    again = dict(_row("image", 10, 0, 74.0, at="2026-12-02 10:00"), measured={})
    (row,) = merged(kept, [again])
    assert row["accuracy"] == 74.0 and row["measured"] == kept[0]["measured"]
    assert row["baselines_measured_at"] == "2026-12-01 10:00"
    assert "on the same files (2026-12-01 10:00)" in render_markdown([row], {})
