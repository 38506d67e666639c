"""Hostile command lines found by an outside tester: late Ctrl-C, bad scheduler addresses, huge sizes, bad options.

Each case runs the command line (in-process, or as the ``ipsbayes`` command where the
interpreter's own shutdown matters) and asserts the exit code, that the message names the
option, the value and what would be valid, and that no traceback reaches the user. Only the
test marked ``slow`` samples.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ipsbayes.assurance import MAX_SIZE, MIN_SIZE, DesignSpec, scale_problems
from ipsbayes.cli import main
from ipsbayes.dask_pool import check_scheduler_address, dask_client, run_tasks
from ipsbayes.errors import ConfigError
from ipsbayes.manifest import read_manifest
from ipsbayes.sampling import PROFILES
from ipsbayes.simulate import DESIGNS, NUMBER_RANGE, WHOLE_RANGE, make_design, simulate

from .conftest import REPO, ipsbayes_command

RIJ_DATA = REPO / "data" / "rij"
CHEAP = {"sampler.profile": "ci", "sensitivity.prior_sets": [], "sensitivity.variants": {}}


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    """Run the command line in-process; return its exit code and stderr (asserting no traceback)."""
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err, captured.err
    return code, captured.err


# ----------------------------------------------------------------------------- 1. Ctrl-C during shutdown

#: the ``ipsbayes`` command, run by a Python that adds a slow exit handler, as distributed's
#: ``close_clusters`` was: it writes a flag file when the command has finished and the interpreter's
#: teardown has begun, then waits as a cluster being closed does
LATE_INTERRUPT = textwrap.dedent(
    """
    import atexit, pathlib, sys, time

    from ipsbayes.cli import main

    flag, argv = pathlib.Path(sys.argv[1]), sys.argv[2:]

    def slow_teardown():
        flag.write_text("tearing down")
        time.sleep(30)

    atexit.register(slow_teardown)
    sys.argv = ["ipsbayes", *argv]
    sys.exit(main())
    """
)


def test_ctrl_c_while_the_interpreter_shuts_down_exits_130_without_a_traceback(tmp_path: Path) -> None:
    """Ctrl-C after a command printed its result, in the interpreter's teardown: 130, one line, output in place.

    The output is complete and in place when the teardown starts, so it stays; the exit code is
    still 130 because the user interrupted the process (a shell script running it stops too, as
    it would for any interrupted command), and the message says that the folder is complete.
    """
    flag, out = tmp_path / "flag", tmp_path / "rij"
    process = subprocess.Popen(
        [sys.executable, "-c", LATE_INTERRUPT, str(flag), "simulate", "rij", "--seed", "3", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CI": "true"},
    )
    deadline = time.monotonic() + 60
    while not flag.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert flag.exists(), process.communicate(timeout=30)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=20)
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert process.returncode == 130, (process.returncode, stderr)
    assert f"interrupted: {out} had been written completely and is in place" in stderr
    assert f"wrote rij data (seed 3) to {out}" in stdout
    manifest = read_manifest(out)
    assert manifest is not None and manifest.files == {"participants.csv", "truth.json"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flag", "rij"]  # no staging folder left


def test_in_process_call_restores_the_callers_sigint_handler(tmp_path: Path, capsys) -> None:
    """A program calling ``main`` gets its own SIGINT handler back, whatever the command did."""

    def mine(signum, frame) -> None:
        """A caller's handler."""

    previous = signal.signal(signal.SIGINT, mine)
    try:
        assert main(["simulate", "rij", "--out", str(tmp_path / "rij")]) == 0
        assert signal.getsignal(signal.SIGINT) is mine
        assert main(["simulate", "nosuch", "--out", str(tmp_path / "other")]) == 2
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, previous)
    capsys.readouterr()


def test_the_local_dask_cluster_is_closed_inside_the_command() -> None:
    """``validate`` and ``design`` close their local cluster before writing; none is left for the exit handlers."""
    from distributed.deploy.spec import SpecCluster

    results: list[int] = []
    where = run_tasks(abs, [-1, -2, 3], None, 1, results.append)
    assert sorted(results) == [1, 2, 3] and where == "local cluster (1 workers)"
    assert all(cluster.status.name == "closed" for cluster in list(SpecCluster._instances))


def test_ctrl_c_during_dask_work_stops_at_once_and_the_cluster_still_closes() -> None:
    """A Ctrl-C while workers are busy does not wait seconds for them to stop; the cluster closes on a thread."""
    from distributed.deploy.spec import SpecCluster

    def interrupted(result: float) -> None:
        raise KeyboardInterrupt

    before = set(SpecCluster._instances)
    with pytest.raises(KeyboardInterrupt):
        run_tasks(time.sleep, [0.0, 3.0, 3.0], None, 2, interrupted)
    stopped = time.monotonic()
    (cluster,) = set(SpecCluster._instances) - before
    assert cluster.status.name != "closed"  # still closing when the command has stopped
    while cluster.status.name != "closed" and time.monotonic() < stopped + 30:
        time.sleep(0.1)
    assert cluster.status.name == "closed"


@pytest.mark.sampling
@pytest.mark.slow  # make test-slow: a real design on a 2-worker Dask cluster
def test_ctrl_c_right_after_design_prints_its_report_line(make_config, tmp_path: Path) -> None:
    """The outside tester's case: SIGINT as soon as ``ipsbayes design`` has printed ``report:``."""
    config = make_config("rij_cace", data=RIJ_DATA, **CHEAP, design={"sizes": [66], "trials": 2})
    out = tmp_path / "design"
    process = subprocess.Popen(
        [*ipsbayes_command(), "design", str(config), "--workers", "2", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CI": "true"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("report:"), (line, process.communicate(timeout=60))
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    # interrupted in the teardown (130 and the line saying the folder is complete), or killed by the
    # signal itself once the interpreter has restored the default handler at its very end
    assert process.returncode in (130, -signal.SIGINT), (process.returncode, stderr)
    assert {"report.html", "assurance.csv", "trials.csv"} <= read_manifest(out).files
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# ----------------------------------------------------------------------------- 2. --scheduler


@pytest.mark.parametrize("command", ["validate", "design"])
@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("notanaddress:xx", "port 'xx' is not a whole number from 1 to 65535"),
        ("http://[::1", "unknown scheme 'http'"),
        ("localhost", "the port is missing"),
        ("tcp://[::1", "closing bracket"),
        ("::1:8786", "IPv6 address goes in brackets"),
        ("tcp://host:70000", "port '70000'"),
        ("tcp://host:8786/path", "give only the host and port"),
        ("", "it is empty"),
    ],
)
def test_a_malformed_scheduler_address_is_exit_2_before_any_work(
    command: str, address: str, why: str, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    code, err = run_cli([command, REPO / "models" / "rij_cace.toml", "--scheduler", address, "--out", out], capsys)
    assert code == 2, err
    assert "--scheduler" in err and repr(address) in err and why in err, err
    assert "tcp://" in err and "HOST:PORT" in err  # the valid forms
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("api", ["validate", "design"])
def test_the_python_api_checks_the_address_before_claiming_the_output(api: str, tmp_path: Path) -> None:
    from ipsbayes.assurance import design
    from ipsbayes.validation import validate

    run = {"validate": validate, "design": design}[api]
    with pytest.raises(ConfigError, match=r"--scheduler 'notanaddress:xx' is not a Dask scheduler address"):
        run(REPO / "models" / "rij_cace.toml", scheduler="notanaddress:xx", out=tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "address", ["tcp://127.0.0.1:8786", "localhost:8786", "[::1]:8786", "tls://[2001:db8::1]:8786", "ws://sched:80"]
)
def test_valid_scheduler_addresses_pass(address: str) -> None:
    assert check_scheduler_address(f" {address} ") == address


def test_an_unreachable_scheduler_is_exit_2_naming_the_address() -> None:
    import socket

    import dask
    import distributed  # noqa: F401  # its config defaults first: else leaving dask.config.set deletes them all

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), pytest.raises(ConfigError) as info:
        with dask_client(address, None):
            pass
    message = str(info.value)
    assert info.value.exit_code == 2 and f"--scheduler '{address}'" in message and "could not connect" in message


@pytest.mark.parametrize("command", ["validate", "design"])
def test_an_unreachable_scheduler_is_named_before_any_fit(command: str, tmp_path: Path, capsys) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    started = time.perf_counter()
    out = tmp_path / "out"
    code, err = run_cli([command, REPO / "models" / "rij_cace.toml", "--scheduler", address, "--out", out], capsys)
    assert code == 2 and f"--scheduler '{address}': could not connect" in err, err
    assert time.perf_counter() - started < 20 and list(tmp_path.iterdir()) == []  # no fit ran, nothing written


# ----------------------------------------------------------------------------- 3. --sizes, --trials, --workers


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--sizes", "1000000000", "--trials", "1"], ["--sizes", "at most 10,000", "too large: 1000000000"]),
        (["--sizes", "66,10001"], ["--sizes", "8 to 10,000", "too large: 10001"]),
        (["--sizes", "4"], ["--sizes", "at least 8", "too small: 4"]),
        (["--trials", "10001"], ["--trials", "between 1 and 10,000", "10001"]),
        (["--trials", "0"], ["--trials", "between 1 and 10,000"]),
        (["--workers", "1025"], ["--workers", "between 0 and 1,024", "1025"]),
        (["--workers", "-1"], ["--workers", "between 0 and 1,024"]),
    ],
)
def test_design_sizes_trials_and_workers_out_of_range_are_exit_2_at_once(
    args: list[str], words: list[str], tmp_path: Path, capsys
) -> None:
    started = time.perf_counter()
    code, err = run_cli(["design", REPO / "models" / "rij_cace.toml", *args, "--out", tmp_path / "d"], capsys)
    assert code == 2 and all(word in err for word in words), err
    assert time.perf_counter() - started < 5 and list(tmp_path.iterdir()) == []


def test_cli_size_limits_are_the_design_commands() -> None:
    from ipsbayes import cli

    assert (cli.MIN_SIZE, cli.MAX_SIZE) == (MIN_SIZE, MAX_SIZE)


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"sizes": [66, 20_000]}, "key 'design.sizes': give planned sizes of at least 8 participants and at most"),
        ({"sizes": list(range(8, 40))}, "give at most 20 planned sizes, not 32"),
        ({"trials": 10**9}, "key 'design.trials': Input should be less than or equal to 10000"),
        ({"success": {"threshold": math.nan}}, "key 'design.success.threshold'"),
    ],
)
def test_design_table_sizes_and_trials_have_limits(table: dict, words: str, make_config) -> None:
    from ipsbayes.assurance import parse_design
    from ipsbayes.runner import check, validate_config

    config = make_config("rij_cace", data=RIJ_DATA, **CHEAP, design=table)
    with pytest.raises(ConfigError) as info:  # `ipsbayes check` meets it too (an outside review: it said "valid")
        check(config)
    assert words in str(info.value)
    run_config, family, spec, _ = validate_config(config)
    with pytest.raises(ConfigError) as info:
        parse_design(run_config, family, spec, "rij.toml")
    assert words in str(info.value)


@pytest.mark.parametrize(("profile", "largest"), [("ci", 10_000), ("default", 5_000), ("final", 2_000)])
def test_sizes_are_limited_by_the_draws_each_simulated_analysis_keeps(profile: str, largest: int) -> None:
    settings = {**PROFILES[profile], "profile": profile}
    origin = {"sizes": "--sizes", "trials": "--trials"}
    assert scale_problems(DesignSpec(sizes=[66, largest], trials=1), settings, origin) == []
    if largest < MAX_SIZE:
        (problem,) = scale_problems(DesignSpec(sizes=[66, largest + 1], trials=1), settings, origin)
        assert problem.startswith(f"--sizes: {largest + 1:,} participants") and f"8 to {largest:,}" in problem
    (problem,) = scale_problems(DesignSpec(sizes=list(range(66, 86)), trials=10_000), settings, origin)
    assert problem.startswith("--trials: 10,000 trials x 20 sizes") and "at most 2,500 trials" in problem


def test_design_refuses_sizes_its_profile_cannot_hold_before_sampling(
    make_config, tmp_path: Path, capsys, monkeypatch
) -> None:
    import ipsbayes.sampling

    def no_sampling(*args, **kwargs):
        raise AssertionError("design sampled before checking its sizes")

    monkeypatch.setattr(ipsbayes.sampling, "sample", no_sampling)
    config = make_config("rij_cace", data=RIJ_DATA, **CHEAP, design={"profile": "final"})
    code, err = run_cli(["design", config, "--sizes", "66,5000", "--workers", "0", "--out", tmp_path / "d"], capsys)
    assert code == 2 and "--sizes: 5,000 participants" in err and "profile 'final'" in err, err
    assert "give sizes of 8 to 2,000" in err and not (tmp_path / "d").exists()


# ----------------------------------------------------------------------------- 4. simulate --option


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e400"])
@pytest.mark.parametrize(("design", "option"), [("ipsung", "sd_service"), ("rij", "treatment_effect")])
def test_option_values_must_be_finite_numbers(design: str, option: str, value: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "sim"
    code, err = run_cli(["simulate", design, "--out", out, "--option", f"{option}={value}"], capsys)
    assert code == 2, err
    assert f"option '{option}'" in err and "must be a finite number from -1,000 to 1,000" in err, err
    assert not out.exists()


def test_every_number_option_of_every_design_is_checked() -> None:
    """Every number (and list of numbers) of both designs refuses nan and inf; every whole number its range."""
    for name, (cls, _simulator) in DESIGNS.items():
        defaults = cls()
        for field in dataclasses.fields(cls):
            default = getattr(defaults, field.name)
            first = default[0] if isinstance(default, tuple) else default
            if field.name == "extra" or isinstance(first, bool | str):
                continue
            whole = isinstance(first, int)
            low, high = cls.LIMITS.get(field.name, WHOLE_RANGE if whole else NUMBER_RANGE)
            bad = [low - 1, high + 1] if whole else ["nan", "inf", "-inf", str(high * 2)]
            for value in bad:
                text = ",".join([str(value)] * len(default)) if isinstance(default, tuple) else str(value)
                with pytest.raises(ConfigError) as info:
                    make_design(name, {field.name: text})
                assert f"option '{field.name}' = " in str(info.value), (name, field.name, value)


def test_a_huge_participant_count_names_the_option_and_its_range(tmp_path: Path, capsys) -> None:
    out = tmp_path / "sim"
    code, err = run_cli(["simulate", "ipsung", "--out", out, "--option", "n_participants=1000000000000"], capsys)
    assert code == 2
    assert "option 'n_participants' = 1000000000000: must be a whole number from 1 to 200,000" in err, err
    assert "sampler" not in err and not out.exists()
    code, err = run_cli(
        ["simulate", "ipsung", "--out", out, "--option", "n_participants=200000", "--option", "monthly_months=60"],
        capsys,
    )
    assert code == 2 and "n_participants x monthly_months = 12,000,000 monthly panel rows" in err, err


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"n_participants": 3000.0}, "option 'n_participants': cannot read 3000.0 as a whole number"),
        ({"n_services": [1]}, "option 'n_services': cannot read [1] as a whole number"),
        ({"sd_service": True}, "option 'sd_service': cannot read true as a number"),
        ({"study_start": 5}, "option 'study_start': cannot read 5 as text"),
        ({"diagnosis_probs": (0.2, math.nan, 0.3, 0.1)}, "option 'diagnosis_probs' = 0.2,nan,0.3,0.1"),
    ],
)
def test_config_option_values_of_the_wrong_type_are_named(options: dict, words: str) -> None:
    """``[validation] options`` come from TOML, typed: a wrong type is a problem, never a crash."""
    with pytest.raises(ConfigError) as info:
        make_design("ipsung", options)
    assert words in str(info.value)


@pytest.mark.parametrize("option", ["treatment_effect", "complier_control_intercept", "outcome_per_year_schooling"])
@pytest.mark.parametrize("value", [-60.0, 60.0, 1_000.0])
def test_rij_simulates_at_saturated_probabilities(option: str, value: float) -> None:
    """Log-odds far out make the monthly probability exactly 0 or 1 in floating point; the simulator copes."""
    tables, _truth = simulate("rij", 5, options={option: value})
    assert len(tables["participants"]) == 66


def test_the_resource_trackers_leak_warning_is_kept_out_of_the_terminal(monkeypatch) -> None:
    """After a Ctrl-C the tracker frees the stopped workers' semaphores; its two-line warning is not shown."""
    import sys
    from multiprocessing import util

    from ipsbayes import dask_pool

    monkeypatch.setattr(sys, "warnoptions", [])
    dask_pool._quiet_resource_tracker()
    dask_pool._quiet_resource_tracker()  # once only
    assert sys.warnoptions == [dask_pool._TRACKER_QUIET]
    assert f"-W{dask_pool._TRACKER_QUIET}" in util._args_from_interpreter_flags()  # what the tracker starts with
