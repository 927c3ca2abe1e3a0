"""Fine-tuning: `train(config, reporter, cancel, resume_from)` -> {"run_dir", "metrics", "stopped"}.

`train` is run.train inside guard.py's crash recovery and failure recording."""
from .guard import train

__all__ = ["train"]
