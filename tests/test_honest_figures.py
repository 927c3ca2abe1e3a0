"""Figures printed at the end of a run carry their interval and count; warnings speak of the data at hand."""
from __future__ import annotations

import io
from types import SimpleNamespace

from engine import protocol


def test_the_cli_result_line_carries_the_interval_the_count_and_the_model_kept():
    from engine.commands.train import ConsolePrinter

    out = io.StringIO()
    metrics = {"test": {"accuracy": 1.0, "n": 4, "ci95": {"accuracy": [0.4, 1.0]}},
               "simple_baseline": {"accuracy": 0.5}, "selection": {"winner": "linear probe"}}
    ConsolePrinter(False, out)(protocol.Result(run_dir="/runs/r", metrics=metrics))
    line = out.getvalue().strip()
    assert line == ("Done: /runs/r  test accuracy 1.000 (95% CI 0.400-1.000, 4 examples); simple baseline 0.500; "
                    "kept: linear probe")
    out = io.StringIO()
    ConsolePrinter(False, out)(protocol.Result(run_dir="/runs/r", metrics={"val": {"accuracy": 0.5}}))
    assert out.getvalue().strip() == "Done: /runs/r  validation accuracy 0.500"


def test_the_baseline_warning_names_the_kind_of_data_the_run_has(monkeypatch):
    from engine.evaluate import simple_baseline

    monkeypatch.setattr(simple_baseline, "fit_and_score",
                        lambda modality, fit_on, score_on, *classes: {"method": "m", "accuracy": 0.9})
    for modality, says, never in (("text", "another language", "images"), ("image", "unusual images", "language")):
        seen = []
        data = SimpleNamespace(modality=modality, split=lambda name: [])
        simple_baseline.compare(data, {"test": {"accuracy": 0.5}}, seen.append)
        text = seen[0].text
        assert says in text and never not in text, text
