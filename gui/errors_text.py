"""An engine error in the window's words: a title by kind, the engine's sentence, advice where it helps."""
from __future__ import annotations

ERROR_TITLES = {
    "config": "A setting needs changing",
    "data": "There is a problem with the data",
    "weights": "The pretrained weights are missing",
    "out_of_memory": "Out of memory",
    "nan_loss": "Training became unstable",
    "disk_full": "The disk is full",
    "bundle": "The saved model cannot be used",
    "cancelled": "Stopped",
    "internal": "Something went wrong inside the engine",
    "protocol": "The engine sent something unexpected",
    "busy": "The engine is busy",
    "engine_stopped": "The engine stopped",
    "timeout": "No answer in time",
}
ERROR_ADVICE = {
    "out_of_memory": "Try a smaller batch size or input size, or freeze more stages.",
    "nan_loss": "Try a lower learning rate.",
    "internal": "The log on the Train page has the details.",
}


def plain_error(err) -> str:
    kind = getattr(err, "kind", "internal")
    text = (getattr(err, "message", "") or "").strip() or "No details were given."
    advice = ERROR_ADVICE.get(kind, "")
    title = ERROR_TITLES.get(kind, "Something went wrong")
    return f"{title}: {text}" + (f" {advice}" if advice and advice not in text else "")
