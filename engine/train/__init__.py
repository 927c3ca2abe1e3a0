"""Fine-tuning: `train(config, reporter, cancel, resume_from)` -> {"run_dir", "metrics", "stopped"}."""
from .run import train

__all__ = ["train"]
