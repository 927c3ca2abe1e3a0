"""The explanation request and reply (issue 23), kept beside engine/protocol.py, which imports
and re-exports them: standard library only, registered by the same decorator.

Maps cross the process boundary as files, not arrays: the engine writes them (PNG and .npy,
atomically) into its cache and the reply names them, so a 224 x 224 map is a path of 100 bytes
instead of ~400 KB of JSON on the app's line reader. Word scores for text are small (one pair
per word, the text truncated as the model reads it) and travel inline.
"""
from __future__ import annotations

from dataclasses import field

from .protocol import Message, message


@message("explain")
class Explain(Message):  # what the model looked at in these files (engine/explain)
    model: str = ""  # a run directory or a bundle folder
    paths: list = field(default_factory=list)
    target: int | None = None  # class index to explain; None = the class the model decided on


@message("explained")
class Explained(Message):
    """items: one per path, {"path", "error"} when it could not be explained, else {path, modality,
    method (vocabulary.ExplainMethod), target, target_label, predicted, predicted_label,
    probabilities, classes, cached, seconds} and for images {base, heat, overlay: PNG paths, map:
    .npy path, size: [w, h]}, for text {text, words: [[word, score in -1..1, start, end], ...]}."""

    items: list = field(default_factory=list)
    request_seq: int | None = None
