"""Every phase, kind, reason and level the code sends is one protocol.py names (issue 18, part 4).

The message fields stay plain strings (an unknown value from a newer engine is tolerated), so
this test reads engine/ and gui/ as syntax trees and checks each literal handed to a message
(or an EngineError's kind) against the vocabularies, and that the app has words for all of them.
"""
from __future__ import annotations

import ast
from pathlib import Path

from engine import protocol as P

ROOT = Path(__file__).resolve().parents[1]
FIELDS = {  # message class -> {field: vocabulary}
    "Status": {"phase": P.Phase}, "Progress": {"phase": P.ProgressPhase}, "Error": {"kind": P.ErrorKind},
    "Bye": {"reason": P.ByeReason}, "Log": {"level": P.LogLevel}, "Checkpoint": {"kind": P.CheckpointKind},
    "Announce": {"phase": P.Phase},  # engine/train/callbacks.py: a callback that sends a Status
    "LabelQueue": {"strategy": P.QueueStrategy},
}


def _name(func) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _strings(value) -> list[str]:
    """The string constants an argument can be: a literal, or either branch of `a if c else b`."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return [value.value]
    if isinstance(value, ast.IfExp):
        return _strings(value.body) + _strings(value.orelse)
    return []


def _literals():
    """(file:line, vocabulary, value) for every string literal the code sends in a vocabulary field."""
    for path in sorted([*(ROOT / "engine").rglob("*.py"), *(ROOT / "gui").rglob("*.py")]):
        where = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = _name(node.func)
                for kw in node.keywords:
                    vocab = FIELDS.get(name, {}).get(kw.arg)
                    for value in _strings(kw.value) if vocab else []:
                        yield f"{where}:{node.lineno}", vocab, value
                if name == "status" and node.args:  # reporter.status("scanning", ...)
                    for value in _strings(node.args[0]):
                        yield f"{where}:{node.lineno}", P.Phase, value
                if name == "log":
                    for kw in node.keywords:
                        for value in _strings(kw.value) if kw.arg == "level" else []:
                            yield f"{where}:{node.lineno}", P.LogLevel, value
            if isinstance(node, ast.ClassDef) and any(_name(b).endswith("Error") for b in node.bases):
                for stmt in node.body:
                    if isinstance(stmt, ast.Assign) and any(getattr(t, "id", "") == "kind" for t in stmt.targets) \
                            and isinstance(stmt.value, ast.Constant):
                        yield f"{where}:{stmt.lineno}", P.ErrorKind, stmt.value.value


def test_every_value_sent_is_in_its_vocabulary():
    found = list(_literals())
    assert len(found) > 40  # the scan sees the code (a broken walk would pass vacuously)
    unknown = [f"{where}: {value!r} is not a {vocab.__name__}" for where, vocab, value in found
               if value not in {v.value for v in vocab}]
    assert not unknown, "\n".join(unknown)


def test_every_vocabulary_value_is_used_somewhere_or_made_by_the_app():
    used = {(vocab, value) for _, vocab, value in _literals()}
    for vocab in (P.Phase, P.ProgressPhase, P.ErrorKind, P.ByeReason):
        idle = [v.value for v in vocab if (vocab, v.value) not in used]
        # "idle" / "done" are the app's own states before and after a run; "completed" is the Bye default;
        # a refit's progress is train progress relabelled by dataclasses.replace (refit.RefitReporter)
        assert set(idle) <= {"idle", "done", "completed", "refit"}, (vocab.__name__, idle)


def test_the_app_has_words_for_every_phase_and_error_kind():
    from gui.errors_text import ERROR_TITLES
    from gui.train_model import PHASE_TEXT

    assert set(P.ErrorKind) <= set(ERROR_TITLES), set(P.ErrorKind) - set(ERROR_TITLES)
    assert set(P.Phase) <= set(PHASE_TEXT), set(P.Phase) - set(PHASE_TEXT)


def test_unknown_values_from_a_newer_engine_still_decode():
    line = P.encode(P.Status(phase="quantising", detail="x"), 1)
    assert P.decode(line).message.phase == "quantising"
    assert '"level":"warning"' in P.encode(P.Log(level=P.LogLevel.WARNING, text="t"), 2)  # plain on the wire


def test_every_finding_the_scan_can_report_has_a_heading_in_the_app():
    """The health report's finding codes are written where they are found; the Data page heads each
    one in words (gui/finding_titles.py) instead of showing the code."""
    import re

    from gui.finding_titles import TITLES

    found = set()
    for path in (ROOT / "engine").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'\.add\("(?:info|warning|error|fatal)", "([a-z_]+)"', text))
        found |= set(re.findall(r'"code": "([a-z_]+)"', text))
    assert len(found) > 20  # the scan above still reads the engine's way of writing findings
    assert found <= set(TITLES), sorted(found - set(TITLES))
