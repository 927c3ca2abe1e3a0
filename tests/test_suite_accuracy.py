"""The wide suite's summarising and rendering (benchmarks/suite_report.py) on made-up rows: no training."""
from benchmarks import suite_accuracy as sa
from benchmarks import suite_report as sr

ENV = {"cpus": 2, "machine": "x86_64", "torch": "0.0", "python": "3.11", "device": "cpu"}


def _row(row, seed, ours, probe, ft, half="confirmation", per_class=10, counts=None, winner="fine-tune",
         minority=50.0, measured_at="2026-12-07 05:00"):
    return {"row": row, "task": row.split("-3-rare")[0], "half": half, "modality": "text", "per_class": per_class,
            "counts": counts, "seed": seed, "accuracy": ours, "balanced_accuracy": ours, "recall": {},
            "minority_class": "a", "minority_recall": minority, "measured_at": measured_at, "wall_s": 1.0,
            "cpu_s": 100.0, "selection": {"winner": winner, "probe_test": probe, "finetune_test": ours},
            "measured": {"probe": {"accuracy": probe, "cpu_s": 5.0}, "finetune": {"accuracy": ft, "cpu_s": 50.0}}
            if probe is not None else {},
            "backbone": "minilm_l6", "freeze": 1, "epochs": 10, "epochs_run": 5, "best_epoch": 3,
            "input_size": None, "max_length": 128, "lr": 1e-4}


def _rows():
    return [
        _row("wordnet-verbs", 0, 60.0, 62.0, 55.0), _row("wordnet-verbs", 1, 70.0, 62.0, 55.0),
        _row("wordnet-verbs", 2, 65.0, 62.0, 55.0, winner="linear probe"),
        _row("word-language", 0, 50.0, 56.0, 40.0, per_class=200),  # 6 below the probe, one seed
        _row("wordnet-verbs-3-rare", 0, 80.0, 79.5, 75.0, per_class=None,
             counts={"verb_change": 200, "verb_body": 20}, minority=30.0),
        _row("wordnet-nouns", 0, 90.0, 80.0, 85.0, half="tuning", measured_at="2026-12-07 04:40"),
    ]


def test_summary_mean_min_over_seeds_and_kept_models():
    s = {(x["row"], x["per_class"]): x for x in sr.summarise(_rows())}
    v = s[("wordnet-verbs", 10)]
    assert v["seeds"] == [0, 1, 2] and v["accuracy"] == 65.0 and v["min_accuracy"] == 60.0
    assert v["probe"] == 62.0 and v["better"] == 62.0 and v["vs_better"] == 3.0 and v["vs_probe"] == 3.0
    assert sr.kept_counts(v["kept"]) == "FT 2 / probe 1"
    assert s[("word-language", 200)]["vs_probe"] == -6.0


def test_half_summary_counts():
    lines = [x for x in sr.summarise(_rows()) if x["half"] == "confirmation"]
    h = sr.half_summary(lines)
    assert h["rows"] == h["with_baselines"] == 3
    assert h["mean_vs_better"] == round((3.0 - 6.0 + 0.5) / 3, 1)
    assert h["within_1"] == 2 and h["below_better_1"] == ["word-language 200"]
    assert h["below_probe_2"] == ["word-language 200"]
    assert h["fewer_than_3_seeds"] == ["word-language 200", "wordnet-verbs-3-rare 200 / 20 (imbalanced)"]


def test_rows_without_baselines_are_left_out_of_the_goal():
    rows = [_row("emoji-group", 0, 70.0, None, None)]
    s = sr.summarise(rows)
    assert "better" not in s[0]
    assert sr.half_summary(s)["with_baselines"] == 0 and sr.half_summary(s)["mean_vs_better"] is None


def test_merge_keeps_earlier_baselines_and_replaces_same_sample():
    old = _rows()
    new = [_row("wordnet-verbs", 0, 61.0, None, None)]
    out = sa.merged(old, new)
    assert len(out) == len(old)
    r = next(x for x in out if (x["row"], x["seed"]) == ("wordnet-verbs", 0))
    assert r["accuracy"] == 61.0 and r["measured"]["probe"]["accuracy"] == 62.0 and "baselines_measured_at" in r
    assert [x["half"] for x in out][0] == "confirmation"  # halves grouped


def test_baselines_measured_alone_replace_only_their_samples_baselines():
    old = _rows()
    again = {"row": "wordnet-verbs", "per_class": 10, "seed": 1, "baselines_only": True,
             "baselines_measured_at": "2026-12-08 10:00",
             "measured": {"probe": {"accuracy": 64.0, "cpu_s": 5.0}, "finetune": {"accuracy": 58.0, "cpu_s": 50.0}}}
    orphan = {**again, "row": "glyph-script"}  # nothing of ours to pair with: dropped
    out = sa.merged(old, [again, orphan])
    assert len(out) == len(old) and not any(x.get("baselines_only") for x in out)
    r = next(x for x in out if (x["row"], x["seed"]) == ("wordnet-verbs", 1))
    assert r["accuracy"] == 70.0 and r["measured_at"] == "2026-12-07 05:00"  # the recipe's figures kept
    assert r["measured"]["probe"]["accuracy"] == 64.0 and r["baselines_measured_at"] == "2026-12-08 10:00"
    untouched = next(x for x in out if (x["row"], x["seed"]) == ("wordnet-verbs", 0))
    assert untouched["measured"]["probe"]["accuracy"] == 62.0


def test_markdown_has_both_halves_every_row_and_the_summaries():
    md = sr.render_markdown(sa.merged([], _rows()), env=ENV)
    assert "2026-12-07 04:40 to 2026-12-07 05:00" in md and "torch 0.0" in md
    tuning, confirmation = md.index("## Tuning half"), md.index("## Confirmation half")
    assert tuning < md.index("| wordnet-nouns |") < confirmation < md.index("| wordnet-verbs |")
    assert "| wordnet-verbs | text | 10 | 0,1,2 | **65.0** (60.0) | 62.0 | 55.0 | +3.0 | +3.0 |" in md
    assert "| FT 2 / probe 1 |" in md
    assert "wordnet-verbs-3-rare (wordnet-verbs) | text | 200 / 20 (imbalanced) | 0 * |" in md
    assert ("mean of (ours - better baseline) -0.8 points; 2 of 3 rows within 1 point of the better baseline "
            "or above (below it: word-language 200); 1 rows more than 2 points below the probe: word-language 200") in md
    assert "Rows with fewer than 3 seeds (marked *): word-language 200," in md
    assert "not measured at any size: bible-division," in md and "wordnet-verbs-3-rare" not in md.split(
        "not measured at any size:")[2].split("\n")[0]


def test_accuracy_md_gets_both_halves_and_keeps_the_rest(tmp_path):
    md = tmp_path / "ACCURACY.md"
    md.write_text("# Accuracy of the auto recipe\n\nMeasured by accuracy.py.\n\n| data | N/class |\n")
    rows = sa.merged([], _rows())
    sr.write_accuracy_block(rows, str(md))
    first = md.read_text()
    assert first.startswith("# Accuracy of the auto recipe\n\n" + sr.BLOCK_BEGIN)
    assert first.index("### Tuning half") < first.index("### Confirmation half") < first.index(sr.BLOCK_END)
    assert "| wordnet-verbs | text | 10 | 0,1,2 | **65.0** (60.0) |" in first
    assert first.endswith("Measured by accuracy.py.\n\n| data | N/class |\n")
    # written again (and after accuracy.py wrote its own part again): one block, in place, nothing else touched
    rows[0] = {**rows[0], "accuracy": rows[0]["accuracy"] + 1}
    sr.write_accuracy_block(rows, str(md))
    second = md.read_text()
    assert second.count(sr.BLOCK_BEGIN) == 1 and second.count(sr.BLOCK_END) == 1 and second != first
    assert second.endswith("Measured by accuracy.py.\n\n| data | N/class |\n")


def test_accuracy_py_writing_its_part_again_keeps_the_suite_block(tmp_path):
    old = "# Accuracy\n\n" + sr.accuracy_block(sa.merged([], _rows())) + "\n\nold six rows\n"
    new = sr.carry_block(old, "# Accuracy\n\nnew six rows\n")
    assert new.count(sr.BLOCK_BEGIN) == 1 and "### Confirmation half" in new
    assert new.endswith("new six rows\n") and "old six rows" not in new
    assert sr.carry_block("# Accuracy\n\nno block\n", "# Accuracy\n\nnew\n") == "# Accuracy\n\nnew\n"


def test_plan_check_names_each_choice_todays_recipe_makes_otherwise():
    """suite_plans.differences: a row is stale where a recorded choice differs from today's resolved config;
    the refit is read from the row's own record, else from a kept fine-tune's selection, else not judged."""
    from types import SimpleNamespace

    from benchmarks import suite_plans as sp

    today = SimpleNamespace(backbone="minilm_l6", freeze=1, epochs=10, lr=1e-4, input_size=None, max_length=128,
                            refit=True)
    row = _row("wordnet-verbs", 0, 60.0, 62.0, 55.0)
    row["selection"]["finetune_refit"] = True
    assert sp.differences(row, today) == {}
    old = {**row, "lr": 5e-4, "selection": {"winner": "fine-tune", "finetune_refit": False}}
    assert sp.differences(old, today) == {"lr": [5e-4, 1e-4], "refit": [False, True]}
    probe_kept = {**row, "selection": {"winner": "fine-tune", "network_winner": "linear probe"}}
    assert sp.recorded_refit(probe_kept) is None and sp.differences(probe_kept, today) == {}
    assert sp.differences({**probe_kept, "refit": False}, today) == {"refit": [False, True]}
