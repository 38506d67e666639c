"""Compiled models that persist across processes (issue 15): what a first and a second run cost.

Usage (repository root, after ``make install``)::

    .venv/bin/python benchmarks/compile_persist.py                    # everything
    .venv/bin/python benchmarks/compile_persist.py --skip-runs        # only the 1,500-row model
    .venv/bin/python benchmarks/compile_persist.py --configs rij_cace ipsung_employment

1. The benchmark reference model (1,500 participants, Bernoulli rows, 43 services) in fresh
   processes, each timed from the parent's spawn: imports, read data + build the model,
   compile (or load), and the start of sampling (first draw of one chain), then the whole fit
   (4 chains x 1,000 draws after 1,000 tuning steps). Two sequences, each starting from empty
   caches (PyTensor's compile folder and ipsbayes' compile cache point at a new temporary
   folder): nutpie's frozen compile (``IPSBAYES_CACHE_DIR=off``, what ipsbayes did before) and
   the persistent compile cache; each runs a first process, a second on the same data, a third
   on new data whose free parameters have the same shapes and a fourth on new data where
   ``parameterisation = "auto"`` centres another number of services (a new structure).
2. Per-gradient cost of the frozen graph against the persisted shared-data one, in one process,
   interleaved rounds (thread CPU time).
3. ``ipsbayes run CONFIG --profile ci`` wall time for shipped configs: cold (empty caches), warm
   (second run), and warm with the compile cache off (a re-run before issue 15).

Writes ``benchmarks/results/compile_persist.md`` (and ``.json``). Outputs of runs go to the
temporary folder, never to ``runs/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
N = 1500
FIT = {"chains": 4, "draws": 1000, "tune": 1000}
CONFIGS = ["ipsung_employment", "ipsung_fidelity", "rij_cace"]


# ----------------------------------------------------------------------------------- child process


def child(mode: str, data: str) -> None:
    """One fresh process: print one JSON line of stage times (seconds since the parent spawned it)."""
    t0 = float(os.environ["BENCH_T0"])
    marks = {"interpreter": time.time() - t0}
    import warnings

    warnings.simplefilter("ignore")
    import nutpie

    import ipsbayes.runner  # noqa: F401 - what `ipsbayes run` imports
    from ipsbayes import nutpie_compile

    marks["imports"] = time.time() - t0
    sys.path.insert(0, str(HERE))
    from run_benchmarks import ipsbayes_config

    from ipsbayes.runner import check

    plan = check(ipsbayes_config(Path(data), collapse="never"))
    model = plan.model
    marks["read_and_build"] = time.time() - t0
    compiled, _, cache = nutpie_compile.compile_nutpie(model)
    marks["compiled"] = time.time() - t0
    nutpie.sample(compiled, draws=1, tune=1, chains=1, cores=1, seed=1, progress_bar=False)
    marks["first_draw"] = time.time() - t0
    started = time.perf_counter()
    nutpie.sample(compiled, **FIT, cores=2, seed=1, progress_bar=False)
    sampling_s = time.perf_counter() - started
    marks["fit_done"] = time.time() - t0
    result = {"mode": mode, "cache": cache, "marks": marks, "sampling_s": sampling_s, "cpu_s": time.process_time()}
    print(json.dumps(result))


def gradient_child(data: str, rounds: int = 9) -> None:
    """Per-gradient thread-CPU microseconds, frozen vs persisted, interleaved in one process."""
    import warnings

    warnings.simplefilter("ignore")
    import numpy as np
    import nutpie

    from ipsbayes import compile_cache, nutpie_compile

    sys.path.insert(0, str(HERE))
    from run_benchmarks import ipsbayes_config

    from ipsbayes.runner import check

    model = check(ipsbayes_config(Path(data), collapse="never")).model
    names = nutpie_compile.free_names(model)
    persisted, _ = compile_cache.load_or_compile(model, names)
    frozen = nutpie.compile_pymc_model(model, backend="numba", freeze_model=True, var_names=names)
    contenders = {"frozen (nutpie)": frozen, "persisted shared data": persisted}
    x = {k: np.asarray(c.initial_point_func(1), dtype=float) for k, c in contenders.items()}
    reps = 2000
    out: dict[str, list[float]] = {k: [] for k in contenders}
    for k, c in contenders.items():
        for _ in range(200):
            compile_cache.call_logp(c, x[k])
    for _ in range(rounds):
        for k, c in contenders.items():
            started = time.thread_time()
            for _ in range(reps):
                compile_cache.call_logp(c, x[k])
            out[k].append((time.thread_time() - started) / reps * 1e6)
    print(json.dumps({"us_per_gradient": out, "n_dim": persisted.n_dim}))


# ---------------------------------------------------------------------------------------- parent


def spawn(args: list[str], env: dict[str, str]) -> dict:
    env = {**env, "BENCH_T0": repr(time.time())}
    done = subprocess.run(
        [sys.executable, __file__, *args], env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def make(folder: Path, seed: int) -> str:
    sys.path.insert(0, str(HERE))
    from run_benchmarks import make_data

    return str(make_data(N, folder / f"data_{seed}", seed))


def free_shapes(data: str) -> dict[str, int]:
    """Lengths of the model's dims: with ``parameterisation = "auto"`` the data decide how many services are centred."""
    sys.path.insert(0, str(HERE))
    from run_benchmarks import ipsbayes_config

    from ipsbayes.runner import check

    return {k: len(v) for k, v in check(ipsbayes_config(Path(data), collapse="never")).model.coords.items()}


def sequences(tmp: Path) -> list[dict]:
    data_a = make(tmp, 11)
    shapes = free_shapes(data_a)
    data_b = data_c = None
    for seed in range(12, 40):  # new data with the same parameter shapes, and new data with other ones
        data = make(tmp, seed)
        if free_shapes(data) == shapes:
            data_b = data_b or data
        else:
            data_c = data_c or data
        if data_b and data_c:
            break
    rows = []
    for label, cache_value in (("frozen, cache off", "off"), ("persistent cache", str(tmp / "ipsbayes_cache"))):
        env = {
            **os.environ,
            "IPSBAYES_CACHE_DIR": cache_value,
            "PYTENSOR_FLAGS": f"compiledir={tmp / ('pytensor_' + cache_value.replace('/', '_'))}",
            "PYTHONWARNINGS": "ignore",
        }
        steps = [
            ("first run", data_a),
            ("same data again", data_a),
            ("new data, same parameter shapes", data_b),
            ("new data, other centring split", data_c),
        ]
        for step, data in steps:
            result = spawn(["--child", label, data], env)
            result["label"], result["step"] = label, step
            rows.append(result)
            print(label, step, json.dumps(result["marks"]), result["cache"], flush=True)
    return rows


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "-"


def ci_runs(configs: list[str], tmp: Path) -> list[dict]:
    command = [str(Path(sys.executable).parent / "ipsbayes")]
    if not Path(command[0]).exists():
        command = [sys.executable, "-m", "ipsbayes.cli"]
    rows = []
    for name in configs:
        cache = tmp / f"cache_{name}"
        compiledir = tmp / f"pytensor_{name}"
        steps = (("cold", str(cache)), ("warm", str(cache)), ("cache off", "off"), ("cache off, again", "off"))
        for step, cache_value in steps:
            env = {
                **os.environ,
                "CI": "true",
                "IPSBAYES_CACHE_DIR": cache_value,
                "PYTENSOR_FLAGS": f"compiledir={compiledir}",
            }
            out = tmp / f"run_{name}_{step.replace(' ', '_').replace(',', '')}"
            load = uptime()
            started = time.perf_counter()
            done = subprocess.run(
                [*command, "run", str(ROOT / "models" / f"{name}.toml"), "--profile", "ci", "--out", str(out)],
                env=env,
                capture_output=True,
                text=True,
                timeout=1800,
                check=False,
            )
            wall = time.perf_counter() - started
            row = {"config": name, "step": step, "wall_s": wall, "returncode": done.returncode, "uptime": load}
            provenance = out / "provenance.json"
            if provenance.exists():
                info = json.loads(provenance.read_text())
                timings = info.get("timings_seconds", {})
                row["compile_s"] = timings.get("compile")
                row["sensitivity_s"] = timings.get("sensitivity")
                row["sampling_s"] = timings.get("sampling")
                row["compile_cache"] = info.get("sampler", {}).get("compile_cache")
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def markdown(rows: list[dict], grad: dict | None, runs: list[dict], machine: str) -> str:
    lines = [
        "# Compiled models that persist across processes (`benchmarks/compile_persist.py`)",
        "",
        machine,
        "",
    ]
    if rows:
        lines += [
            f"## Reference model, {N:,} Bernoulli rows: fresh processes",
            "",
            "Seconds since the process was spawned at the end of each stage (wall clock); sampling is the",
            "whole fit (4 chains x 1,000 draws after 1,000 tuning steps on 2 cores). Each sequence starts",
            "from empty caches (PyTensor's compile folder and the ipsbayes compile cache).",
            "",
            "| strategy | process | cache | imports | read + build | compiled | first draw | compile s |"
            " sampling s | total s |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in rows:
            m = r["marks"]
            lines.append(
                f"| {r['label']} | {r['step']} | {r['cache']} | {fmt(m['imports'])} | {fmt(m['read_and_build'])} | "
                f"{fmt(m['compiled'])} | {fmt(m['first_draw'])} | {fmt(m['compiled'] - m['read_and_build'])} | "
                f"{fmt(r['sampling_s'])} | {fmt(m['fit_done'])} |"
            )
        lines.append("")
    if grad:
        lines += [
            "## Per-gradient cost (one process, interleaved rounds, thread CPU)",
            "",
            f"{grad['n_dim']} free parameters. Median (range) microseconds per log-density-and-gradient call",
            "through the C function, as nuts-rs calls it (includes about 1-2 us of ctypes overhead).",
            "",
            "| graph | us per gradient |",
            "| --- | ---: |",
        ]
        for k, v in grad["us_per_gradient"].items():
            lines.append(f"| {k} | {statistics.median(v):.1f} ({min(v):.1f}-{max(v):.1f}) |")
        lines.append("")
    if runs:
        lines += [
            "## `ipsbayes run CONFIG --profile ci`: wall seconds",
            "",
            "cold: empty compile caches; warm: the second run; cache off: `IPSBAYES_CACHE_DIR=off` (nutpie's",
            "frozen compile, as before issue 15) on PyTensor's warm cache, then again (a re-run before issue 15).",
            "",
            "| config | run | wall s | compile s | sampling s | sensitivity s | compile cache | load (uptime) |",
            "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
        ]
        for r in runs:
            load = r["uptime"].split("load average:")[-1].strip()
            lines.append(
                f"| {r['config']} | {r['step']} | {fmt(r['wall_s'])} | {fmt(r.get('compile_s'))} | "
                f"{fmt(r.get('sampling_s'))} | {fmt(r.get('sensitivity_s'))} | {r.get('compile_cache', '-')} | {load} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--gradient":
        gradient_child(sys.argv[2])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="*", default=CONFIGS)
    parser.add_argument("--skip-runs", action="store_true")
    parser.add_argument("--skip-model", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "compile_persist.md")
    parser.add_argument("--keep-runs", action="store_true", help="with --skip-runs: keep the runs of the last result")
    args = parser.parse_args()
    import numba
    import nutpie
    import pymc
    import pytensor

    machine = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, PyMC {pymc.__version__}, "
        f"PyTensor {pytensor.__version__}, nutpie {nutpie.__version__}, numba {numba.__version__}; "
        f"load at start: {uptime().split('load average:')[-1].strip()} (other jobs shared the machine)."
    )
    with tempfile.TemporaryDirectory(prefix="compile_persist_") as folder:
        tmp = Path(folder)
        rows, grad = [], None
        if not args.skip_model:
            rows = sequences(tmp)
            env = {**os.environ, "IPSBAYES_CACHE_DIR": str(tmp / "ipsbayes_cache"), "PYTHONWARNINGS": "ignore"}
            env["PYTENSOR_FLAGS"] = f"compiledir={tmp / ('pytensor_' + env['IPSBAYES_CACHE_DIR'].replace('/', '_'))}"
            grad = spawn(["--gradient", make(tmp, 11)], env)
            print(json.dumps(grad), flush=True)
        runs = [] if args.skip_runs else ci_runs(args.configs, tmp)
        if args.skip_runs and args.keep_runs and args.out.with_suffix(".json").exists():
            runs = json.loads(args.out.with_suffix(".json").read_text())["runs"]
    text = markdown(rows, grad, runs, machine)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(
        json.dumps({"machine": machine, "model": rows, "gradient": grad, "runs": runs}, indent=1)
    )
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
