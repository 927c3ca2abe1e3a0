"""The runs folder as history (engine.history): list, summarise, rename, annotate, delete and compare runs.

Standard library only, so the app reads run folders itself (the run directory is the single
source of truth; index.py only caches summaries computed from it, and can be deleted).
Listing 500 runs is measured by benchmarks/bench_runs_listing.py against the 300 ms goal.
"""
from .compare import Curves, read_config, read_curves, settings_table
from .manage import RunsError, delete_run, set_notes
from .summary import RunSummary, Status, is_run_dir, list_runs, read_notes, read_summary

__all__ = ["Curves", "RunSummary", "RunsError", "Status", "delete_run", "is_run_dir", "list_runs", "read_config",
           "read_curves", "read_notes", "read_summary", "set_notes", "settings_table"]
