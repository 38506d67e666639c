"""PyTensor's softplus or a branch-free one in the Bernoulli likelihood: cost of a gradient (issue 15).

The reference model's likelihood is ``-softplus(-(2y - 1) eta)``. PyTensor's ``softplus`` picks one of
four formulas per element. Two branch-free forms compute the same numbers (``tests/test_fast_paths.py``):

- ``(x + |x|) / 2 + log1p(exp(-|x|))``: one loop body, but PyTensor rewrites ``log1p(exp(z))`` into
  its ``softplus(z)``, whose gradient ``sigmoid(z)`` computes a second exponential;
- ``(x + |x|) / 2 + log1p(exp2(-|x| log2 e))`` (``ipsbayes.families.base.softplus_graph``): not
  rewritten, so value and gradient share one ``exp2``.

This times one log
density + gradient of the reference model (contender benchmark data, ``contenders.prepare``) with
each form, beside Bambi's graph of the same model, all frozen and called through nutpie's compiled
function as nuts-rs calls it; interleaved rounds, medians and ranges of process CPU time.

Usage::

    .venv/bin/python benchmarks/softplus_form.py --sizes 1500,15000 --rounds 5

Results: ``benchmarks/results/softplus_form.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
FORMS = (
    "PyTensor softplus",
    "branch-free, exp",
    "branch-free, exp2 (ipsbayes)",
    "Bambi's graph",
)


def branch_free_exp(x):
    """``(x + |x|) / 2 + log1p(exp(-|x|))``: ipsbayes's form in the eighth round."""
    import pytensor.tensor as pt

    magnitude = pt.abs(x)
    return 0.5 * (x + magnitude) + pt.log1p(pt.exp(-magnitude))


def callers(folder: Path) -> dict:
    """One gradient caller per form (the first three: ipsbayes's graph; the last: Bambi's)."""
    import bambi as bmb
    import contenders
    import pytensor.tensor as pt

    from ipsbayes.families import bernoulli
    from ipsbayes.runner import check

    out = {}
    saved = bernoulli.softplus_graph
    try:
        for form, softplus in zip(FORMS[:3], (pt.softplus, branch_free_exp, saved), strict=True):
            bernoulli.softplus_graph = softplus
            out[form] = contenders.nutpie_caller(check(folder / "config.toml").model)
    finally:
        bernoulli.softplus_graph = saved
    bambi = bmb.Model(contenders.FORMULA, contenders.bambi_frame(folder), family="bernoulli")
    bambi.build()
    out[FORMS[3]] = contenders.nutpie_caller(bambi.backend.model)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1500,15000")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import contenders

    document: dict = {
        "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.platform()}, {os.cpu_count()} cores",
        "load_before": os.getloadavg()[0],
        "sizes": {},
    }
    for n in [int(s) for s in args.sizes.split(",")]:
        calls = callers(contenders.prepare(n, 1))
        for call in calls.values():
            call()
        values = {form: (float(call.keep[3]), call.keep[2].copy()) for form, call in calls.items()}
        (logp_a, grad_a), (logp_b, grad_b) = values[FORMS[0]], values[FORMS[2]]
        repeats = 3000 if n <= 2000 else 300
        timings: dict[str, list[float]] = {form: [] for form in FORMS}
        for round_ in range(args.rounds):
            for form in FORMS if round_ % 2 == 0 else FORMS[::-1]:
                started = time.process_time()
                for _ in range(repeats):
                    calls[form]()
                timings[form].append((time.process_time() - started) / repeats * 1e6)
        document["sizes"][str(n)] = {
            "us_per_gradient": timings,
            "logp_difference": abs(logp_a - logp_b),
            "max_gradient_difference": float(np.abs(grad_a - grad_b).max()),
        }
    document["load_after"] = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "softplus_form.json").write_text(json.dumps(document, indent=1))
    (RESULTS / "softplus_form.md").write_text(render(document, args.rounds))
    print(render(document, args.rounds))
    return 0


def render(document: dict, rounds: int) -> str:
    lines = [
        "# Softplus in the Bernoulli likelihood: PyTensor's or branch-free",
        "",
        "`benchmarks/softplus_form.py`; see its docstring.",
        "",
        f"Measured {document['started']} on {document['machine']}; load average {document['load_before']:.2f} "
        f"before, {document['load_after']:.2f} after; {rounds} interleaved rounds; one log density + gradient, "
        "us of process CPU per call, median (range); frozen data.",
        "",
        "| participants | "
        + " | ".join(FORMS)
        + " | log density and gradient differences (PyTensor's and ipsbayes's) |",
        "| --- | " + " | ".join("---:" for _ in FORMS) + " | --- |",
    ]
    for n, size in document["sizes"].items():
        cells = [
            f"{statistics.median(v):.1f} ({min(v):.1f}-{max(v):.1f})"
            for v in (size["us_per_gradient"][form] for form in FORMS)
        ]
        lines.append(
            f"| {int(n):,} | "
            + " | ".join(cells)
            + f" | {size['logp_difference']:.1e}, {size['max_gradient_difference']:.1e} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
