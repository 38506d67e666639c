"""Process CPU and wall time of each post-fit operation on a run folder of ``benchmarks/postfit.py`` (issue 15).

Reads ``benchmarks/.postfit_runs/n<N>/posterior.nc`` back and times, one at a time: the estimands,
the diagnostics gate (summary, sampler checks, PSIS-LOO), writing posterior.nc, the report and the
prior estimands. Process CPU is reported beside wall time because the benchmark machine is shared.

Usage::

    python benchmarks/postfit.py 15000            # makes the run folder
    python benchmarks/postfit_stages.py 15000 [estimands,diagnostics,write,report,prior_estimands]
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from postfit import config, make_data  # noqa: E402

OPERATIONS = ("estimands", "diagnostics", "write", "report", "prior_estimands")


def timed(name: str, work) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    work()
    print(
        f"{name}: wall {time.perf_counter() - started:.2f} s, process CPU {time.process_time() - cpu:.2f} s", flush=True
    )


def main() -> None:
    warnings.simplefilter("ignore")
    from ipsbayes.diagnostics import diagnose
    from ipsbayes.priors_alone import prior_estimands
    from ipsbayes.report import write_report
    from ipsbayes.rundir import load_run, write_posterior
    from ipsbayes.runner import check, report_settings

    n = int(sys.argv[1])
    chosen = sys.argv[2].split(",") if len(sys.argv) > 2 else OPERATIONS
    folder = HERE / ".postfit_runs" / f"n{n}"
    plan = check(config(make_data(n)))
    run = load_run(folder)
    tree = run.datatree
    posterior = tree["posterior"].to_dataset()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        work = {
            "estimands": lambda: plan.family.estimands(posterior, plan.data, plan.spec, plan.config),
            "diagnostics": lambda: diagnose(tree, plan.config.diagnostics),
            "write": lambda: write_posterior(tree, out / "posterior.nc"),
            "report": lambda: write_report(
                out, tree, run.diagnostics, report_settings(plan.config, run.config, plan.priors, {}, {})
            ),
            "prior_estimands": lambda: prior_estimands(plan.family, plan.model, plan.data, plan.spec, plan.config),
        }
        for name in chosen:
            timed(name, work[name])


if __name__ == "__main__":
    main()
