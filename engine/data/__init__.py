"""Data ingestion and health: folders/tables -> checked, split Dataset + HealthReport.

Torch-free on purpose (the GUI-facing scan must import fast); the torch side lives in
`engine.data.transforms` and `engine.train.batches`, imported only by training.
"""
from .images import IMAGE_EXTS, ImageProblem, load_image, to_rgb, verify_image
from .report_text import format_report
from .scan import health_report, scan
from .splits import allocate, load_splits, save_splits
from .tabular import TABLE_EXTS, read_table
from .text import TEXT_EXTS, decode_text, read_text
from .types import SPLITS, Dataset, Example, Finding, HealthReport

__all__ = [
    "scan", "health_report", "Dataset", "Example", "Finding", "HealthReport", "SPLITS",
    "load_image", "to_rgb", "verify_image", "ImageProblem", "read_text", "decode_text", "read_table",
    "save_splits", "load_splits", "allocate", "format_report",
    "IMAGE_EXTS", "TEXT_EXTS", "TABLE_EXTS",
]
