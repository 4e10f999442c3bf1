"""Evals: score briefs against the hand-written golden set, catch drift, compare runs.

- `golden`: load `evals/golden/*.json`.
- `match`: locate golden quotes in the normalized text; match items to golden entries.
- `score`: per-report and pooled scores.
- `record`: the run record (also the baseline format).
- `runner`: run a backend over the golden set; re-score saved records.
- `drift`: compare a run with a baseline.
- `compare`: two runs side by side as HTML.

The pipeline never imports this package; it is an edge like the CLI.
"""

from service.evals.golden import EvalError, GoldenReport, load_golden_dir
from service.evals.record import RunRecord, Scores

__all__ = ["EvalError", "GoldenReport", "RunRecord", "Scores", "load_golden_dir"]
