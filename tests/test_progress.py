"""Stage progress lines: one per finished stage with its time; refits folded into one line; silent by default."""

from __future__ import annotations

from ipsbayes import progress


def test_one_line_per_stage_and_refits_folded() -> None:
    lines: list[str] = []
    with progress.reporting(lines.append):
        progress.done("read data, build model")
        progress.done("compile")
        with progress.group("refit, prior set: sceptical"):
            progress.done("compile")
            progress.done("sampling")
        progress.done("report")
    assert [line.split("  ")[0] for line in lines] == [
        "read data, build model",
        "compile",
        "refit, prior set: sceptical",
        "report",
    ]
    assert all(line.rstrip().endswith("s)") and " s " in line for line in lines)


def test_silent_without_a_callback() -> None:
    progress.done("sampling")  # no callback installed: nothing happens
    lines: list[str] = []
    with progress.reporting(None):
        progress.done("sampling")
    assert lines == []
