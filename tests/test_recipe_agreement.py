"""One recipe, asked two ways: the GUI (its config, answered by the engine's resolve_config request)
and the CLI (`transfer-studio recipe`) resolve the same data to the same settings, and a run
trains with exactly those (engine/recipe/)."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine import protocol
from gui.train_model import TrainSettings, build_config
from tests.test_server import Capture, line

WORDS = {"sea": "wave tide salt boat harbour fish shore sail", "city": "street tram office tower bridge bus park"}


def _data(root: Path, modality: str, per_class: int) -> Path:
    rng = np.random.default_rng(0)
    for c, (name, words) in enumerate(WORDS.items()):
        d = root / name
        d.mkdir(parents=True)
        for i in range(per_class):
            if modality == "image":
                a = rng.integers(0, 80, (24, 30, 3), dtype=np.uint8)
                a[..., c] += 150
                Image.fromarray(a).save(d / f"{i}.png")
            else:
                (d / f"{i}.txt").write_text(" ".join(rng.choice(words.split(), size=int(rng.integers(5, 30)))))
    return root


def _gui(data: Path, backbone: str, freeze, runs: Path) -> dict:
    """What the window sends (Auto everywhere, the slider on Auto) and the engine's server answers."""
    from engine import server

    out = Capture()
    srv = server.Server(out, heartbeat_s=3600, probe=False)
    srv.begin()
    try:
        config = build_config([str(data)], backbone, freeze, TrainSettings(), str(runs))
        srv.handle_line(line(protocol.ResolveConfig(config=config), seq=7))
        reply = out.wait_for(protocol.ResolvedConfig)
    finally:
        srv.close()
    assert reply.request_seq == 7
    return {"settings": reply.settings, "facts": reply.facts, "config": reply.config, "estimate": reply.estimate}


def _cli(data: Path, runs: Path, *extra: str) -> dict:
    from engine.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["recipe", "--data", str(data), "--runs-root", str(runs), "--json", "--no-estimate", *extra]) == 0
    return json.loads(buf.getvalue())


@pytest.mark.parametrize("modality", ["image", "text"])
@pytest.mark.parametrize("per_class", [10, 200])
def test_the_gui_and_the_cli_resolve_the_same_config_to_the_same_settings(tmp_path, modality, per_class):
    from engine.recipe import AUTO_BACKBONE

    data = _data(tmp_path / "data", modality, per_class)
    gui = _gui(data, AUTO_BACKBONE[modality], None, tmp_path / "runs")
    cli = _cli(data, tmp_path / "runs")
    assert gui["settings"] == cli["settings"] and gui["facts"] == cli["facts"]
    assert all(s["auto"] and s["reason"] for s in gui["settings"])
    assert gui["estimate"]["seconds"] > 0 and gui["estimate"]["step_s"] > 0  # timed on this machine
    got = {s["name"]: s["value"] for s in gui["settings"]}
    if modality == "text":  # the GUI used to send its own "recommended" 4 at 10 per class; the recipe's rule says 1
        assert got["freeze"] == (1 if per_class == 10 else 4)
    assert got["refit"] is (per_class == 10)
    # a depth the person chose is theirs in both, and the rules that read it follow
    gui2 = _gui(data, AUTO_BACKBONE[modality], 0, tmp_path / "runs")
    cli2 = _cli(data, tmp_path / "runs", "--freeze", "0")
    assert gui2["settings"] == cli2["settings"]
    freeze = next(s for s in gui2["settings"] if s["name"] == "freeze")
    assert freeze == {"name": "freeze", "value": 0, "auto": False, "reason": "your choice"}


def test_a_bad_setting_gets_one_sentence_from_the_request(tmp_path):
    from engine import server

    data = _data(tmp_path / "data", "image", 10)
    out = Capture()
    srv = server.Server(out, heartbeat_s=3600, probe=False)
    srv.begin()
    try:
        config = build_config([str(data)], "minilm_l6", None, TrainSettings(), str(tmp_path / "runs"))
        srv.handle_line(line(protocol.ResolveConfig(config=config), seq=3))
        err = out.wait_for(protocol.Error)
    finally:
        srv.close()
    assert err.request_seq == 3 and err.kind == "config" and "reads text but this data is image" in err.message


def test_the_rules_table_renders_readme_and_the_train_help():
    """README's recipe section is the rendered RULES table; every rule is in `train --help`."""
    from engine.commands.train import add_arguments
    from engine.recipe import RULES
    from engine.recipe.render import rules_markdown
    import argparse

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert rules_markdown() in readme, "README's recipe table is stale: paste `transfer-studio recipe --rules`"
    p = argparse.ArgumentParser()
    add_arguments(p)
    helps = " ".join(a.help or "" for a in p._actions)
    for rule in RULES:
        assert rule.says in helps, rule.setting


def test_a_run_trains_with_the_settings_it_was_shown(tmp_path):
    """The preview is not a copy: the run's recipe.json holds the same settings the CLI showed."""
    from engine.config import RunConfig
    from engine.train import train

    data = _data(tmp_path / "data", "image", 10)
    shown = _cli(data, tmp_path / "runs", "--backbone", "test_tiny_cnn", "--epochs", "1")
    out = train(RunConfig(data=[str(data)], backbone="test_tiny_cnn", epochs=1, runs_root=str(tmp_path / "runs")))
    saved = json.loads((Path(out["run_dir"]) / "recipe.json").read_text())
    assert saved["settings"] == shown["settings"]
    cfg = json.loads((Path(out["run_dir"]) / "config.json").read_text())
    assert all(cfg[s["name"]] == s["value"] for s in saved["settings"])
    # the model card lists the same settings with the same reasons
    from engine.bundle.model_card import _settings_section

    card = "\n".join(_settings_section({"recipe": saved["settings"]}))
    for s in saved["settings"]:
        assert f"| `{s['name']}` |" in card
        assert (s["reason"] in card) if s["auto"] else ("the person who trained it" in card)
