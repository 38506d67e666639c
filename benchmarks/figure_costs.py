"""CPU seconds of each report figure of a run folder, stage by stage (issue 15: what the report costs).

For every figure the run's report draws: drawing (matplotlib and ArviZ calls), laying it out at the
profile's size (constrained layout), and saving it as PNG (at the profile's DPI) and as SVG, each
timed in CPU seconds of this process, medians over ``--rounds`` rounds, one process, no fork.

Usage::

    .venv/bin/python benchmarks/figure_costs.py benchmarks/.postfit_runs/n15000_auto --rounds 3

Results are appended to ``benchmarks/results/figure_costs.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
STAGES = ("draw", "layout", "png", "svg")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_folder", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import matplotlib
    import matplotlib.pyplot as plt

    import ipsbayes
    from ipsbayes.config import RunConfig
    from ipsbayes.priors import PriorSet
    from ipsbayes.report.figure_files import FigureWriter, freeze_layout
    from ipsbayes.report.figures import figure_specs, fit_to_profile
    from ipsbayes.report.render import presentation_of, report_context
    from ipsbayes.runner import report_settings

    run = ipsbayes.load_run(args.run_folder)
    config = RunConfig.model_validate({**run.config, "source": None})
    settings = report_settings(config, run.config, PriorSet(name="timing", description="", priors={}), {}, {})
    ctx = report_context(run.datatree, settings)
    presentation = presentation_of(ctx.estimands)
    with matplotlib.rc_context(ctx.style.rc()), plt.ioff():
        specs = [spec for spec in figure_specs(presentation, True) if spec.applies(ctx)]
    seconds: dict[str, list[tuple[float, ...]]] = {spec.name: [] for spec in specs}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for spec in specs:
                with matplotlib.rc_context(ctx.style.rc()), plt.ioff(), FigureWriter(ctx.style.dpi) as writer:
                    marks = [time.process_time()]
                    fig, _ = spec.draw(ctx)
                    marks.append(time.process_time())
                    fit_to_profile(fig, ctx.style, height=fig.get_size_inches()[1])
                    freeze_layout(fig)
                    marks.append(time.process_time())
                    writer.save(fig, Path(tmp) / f"{spec.name}.png", "png")  # rendering; compression on a thread
                    marks.append(time.process_time())
                    writer.save(fig, Path(tmp) / f"{spec.name}.svg", "svg")
                    marks.append(time.process_time())
                    plt.close(fig)
                seconds[spec.name].append(tuple(b - a for a, b in itertools.pairwise(marks)))
    rows = max(run.datatree["observed_data"].sizes.values(), default=0)
    lines = [
        f"\n## {args.run_folder} ({rows:,} rows; {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"medians of {args.rounds} rounds, CPU s)\n",
        "| figure | " + " | ".join(STAGES) + " | total |",
        "| --- | " + " | ".join("---:" for _ in STAGES) + " | ---: |",
    ]
    for name, rows in sorted(seconds.items(), key=lambda item: -statistics.median(sum(r) for r in item[1])):
        cells = [statistics.median(r[k] for r in rows) for k in range(len(STAGES))]
        lines.append(
            f"| {name} | "
            + " | ".join(f"{c:.3f}" for c in cells)
            + f" | {statistics.median(sum(r) for r in rows):.3f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / "figure_costs.md").open("a") as handle:
        handle.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
