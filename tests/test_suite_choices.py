"""What each run's own choices did across the suite (benchmarks/suite_choices.py), on made-up rows."""
from benchmarks import suite_choices as sc


def _row(half, winner, probe_val, ft_val, probe_test, ft_test, refit=False, simple=None, ours=None):
    sel = {"winner": winner, "probe_val": probe_val, "finetune_val": ft_val, "probe_test": probe_test,
           "finetune_test": ft_test, "finetune_refit": refit}
    if simple is not None:
        sel.update({"simple_p": 0.5, "simple_test": simple})
    kept = probe_test if winner == "linear probe" else ft_test
    return {"half": half, "accuracy": ours if ours is not None else kept, "selection": sel}


ROWS = [
    _row("confirmation", "linear probe", 0.75, 0.75, 60.0, 64.0),  # a tie sent to the probe, 4 points worse on test
    _row("confirmation", "fine-tune", 0.5, 0.6, 50.0, 55.0, simple=40.0),  # right
    _row("confirmation", "fine-tune", 0.5, 0.6, 58.0, 55.0),  # wrong by 3
    _row("confirmation", "fine-tune", 0.4, 0.5, 30.0, 33.0, refit=True),  # refitted fine-tune: not judged
    _row("tuning", "linear probe", 0.9, 0.8, 80.0, 79.0, simple=81.0),
    {"half": "tuning", "accuracy": 70.0, "selection": None},  # a run with no choice
]


def test_choices_judge_only_like_with_like_and_count_ties():
    c = sc.choices([r for r in ROWS if r["half"] == "confirmation"])
    assert c["choices"] == 4 and c["fair"] == 3  # the refitted fine-tune is left out
    assert c["probe_gains"] == [-4.0]
    assert c["right"] == 1  # only the second row's kept model was at least as good
    assert c["gain_over_fine_tune"] == round((-4.0 + 0.0 + 0.0) / 3, 1)
    assert c["loss_to_better"] == round((4.0 + 0.0 + 3.0) / 3, 1)
    assert c["ties"] == ["probe"]
    assert c["simple_challenges"] == 1 and c["simple_kept"] == 0 and c["simple_vs_ours"] == [-15.0]


def test_rendered_lines_per_half_and_all():
    text = "\n".join(sc.render(ROWS))
    assert "| confirmation | 4 | 3 | 1 | -4.0 | 1 of 3 | -1.3 | +2.3 | 1 (probe 1) | 0 / 1 | -15.0 (-15.0 to -15.0) |" in text
    assert "| tuning | 1 | 1 | 1 | +1.0 | 1 of 1 | +1.0 | +0.0 | 0 | 0 / 1 | +1.0 (+1.0 to +1.0) |" in text
    assert "| all | 5 | 4 | 2 | -4.0, +1.0 |" in text
