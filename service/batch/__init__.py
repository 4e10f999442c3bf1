"""Batch summarization: many reports into one output folder, concurrently, resumably.

    inputs.py        which files (folders, list files) a batch works on
    runner.py        the concurrent run, resume, the output folder
    manifest.py      the journal, manifest.json, output names, atomic writes, the settings fingerprint
    limiter.py       adaptive (AIMD) concurrency for LLM requests
    progress.py      progress bar / log lines / quiet
    openai_batch.py  `--via openai-batch`: OpenAI's Batch API (an edge: imports the openai client)

The pipeline knows nothing of this package; it is an edge like the CLI and the HTTP app.
"""

from service.batch.inputs import BatchInput, InputsError, collect_inputs
from service.batch.limiter import AdaptiveLimiter
from service.batch.manifest import Fingerprint, Record, read_manifest_records
from service.batch.runner import BatchOptions, BatchResult, BatchRunner, StopBatch

__all__ = [
    "AdaptiveLimiter",
    "BatchInput",
    "BatchOptions",
    "BatchResult",
    "BatchRunner",
    "Fingerprint",
    "InputsError",
    "Record",
    "StopBatch",
    "collect_inputs",
    "read_manifest_records",
]
