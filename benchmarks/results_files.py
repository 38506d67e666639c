"""Appending a benchmark's results: its Markdown table to ``results/<stem>.md``, its runs to ``results/<stem>.json``."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def median_range(values: list[float]) -> str:
    """``median (min-max)`` with two decimals."""
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def append_results(stem: str, text: str, entry: dict[str, Any]) -> None:
    """Print ``text``, append it to ``<stem>.md`` and ``entry`` to the list in ``<stem>.json``."""
    print(text)
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / f"{stem}.md").open("a") as handle:
        handle.write(text)
    store = RESULTS / f"{stem}.json"
    runs = json.loads(store.read_text()) if store.exists() else []
    runs = runs if isinstance(runs, list) else [runs]  # a file that held one run
    runs.append(entry)
    store.write_text(json.dumps(runs, indent=1) + "\n")
