"""Sensitivity refits side by side against one after another (issue 15: "refits run in parallel where cores allow").

``ipsbayes run`` refits the model under every other prior set and model variant. Each refit samples its
chains on ``sampler.cores`` cores; where the machine has room for two or more refits at once
(``ipsbayes.sensitivity.parallel_refits``), they run in forked children side by side. This machine has
2 cores and the default is one core per chain (4 chains: both cores for one refit), so here the case is
a config that samples on one core per refit (``sampler.cores = 1``): two refits fit side by side. On a
16-core machine the default settings (4 cores per refit) give four at once.

Runs ``models/rij_cace.toml`` (two prior sets and a variant: three refits) in this process, with the
side-by-side width forced to 1 and left to the rule, interleaved, and prints the ``sensitivity`` stage's
seconds (all refits) and the whole run's from provenance.json, with a check that the compared numbers
are identical.

Usage::

    .venv/bin/python benchmarks/parallel_refits.py --rounds 3 --profile ci

Results: ``benchmarks/results/parallel_refits.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", default="ci")
    args = parser.parse_args()
    import tomli_w
    from results_files import append_results, median_range

    import ipsbayes
    from ipsbayes import sensitivity
    from ipsbayes.testing import load_raw_config

    raw = load_raw_config(ROOT / "models" / "rij_cace.toml")
    raw["sampler"] = {"profile": args.profile, "cores": 1}
    raw["data"] = {key: str((ROOT / "models" / value).resolve()) for key, value in raw["data"].items()}
    rule = sensitivity.parallel_refits
    ways = {"one after another": lambda config, refits: 1, "side by side (the rule)": rule}
    rows, trees = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "rij_cace.toml"
        config.write_text(tomli_w.dumps(raw))
        ipsbayes.run(config, out=Path(tmp) / "warm", progress=False)  # compile cache and imports warm
        for round_ in range(args.rounds):
            for way, width in ways.items():
                sensitivity.parallel_refits = width
                out = Path(tmp) / f"run-{round_}-{len(rows)}"
                run = ipsbayes.run(config, out=out, progress=False)
                timings = run.provenance["timings_seconds"]
                rows.append(
                    {
                        "way": way,
                        "round": round_,
                        "sensitivity_s": timings["sensitivity"],
                        "total_s": timings["total"],
                        "load": os.getloadavg()[0],
                    }
                )
                trees[way] = run.datatree["sensitivity"].to_dataset().load()
                print(json.dumps(rows[-1]), flush=True)
                shutil.rmtree(out)
        sensitivity.parallel_refits = rule
    identical = trees["one after another"].identical(trees["side by side (the rule)"])
    lines = [
        f"\n## rij_cace, profile {args.profile}, sampler.cores = 1, three refits, {args.rounds} interleaved rounds "
        f"({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {len(os.sched_getaffinity(0))} usable cores)\n",
        "| median (range), s | " + " | ".join(ways) + " |",
        "| --- | ---: | ---: |",
    ]
    for key in ("sensitivity_s", "total_s"):
        cells = [median_range([r[key] for r in rows if r["way"] == way]) for way in ways]
        lines.append(f"| {key.removesuffix('_s')} | " + " | ".join(cells) + " |")
    lines.append(f"\nCompared numbers identical both ways: {identical}.")
    append_results(
        "parallel_refits", "\n".join(lines) + "\n", {"profile": args.profile, "rows": rows, "identical": identical}
    )
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
