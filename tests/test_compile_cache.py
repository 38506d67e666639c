"""Compiled nutpie models that persist across processes (ipsbayes.compile_cache, issue 15).

Every test points the cache at its own temporary folder. Speed is measured in
``benchmarks/compile_persist.py``, never asserted here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pymc as pm
import pytest

from ipsbayes import compile_cache, nutpie_compile

REPO = Path(__file__).resolve().parents[1]

#: a tiny hierarchical logistic model, built the same way in the subprocess test
MODEL_SOURCE = textwrap.dedent(
    """
    import numpy as np
    import pymc as pm


    def tiny_model(n=120, seed=1):
        rng = np.random.default_rng(seed)
        group = rng.integers(0, 4, n)
        x = rng.normal(size=n)
        y = (rng.random(n) < 0.4).astype("int64")
        with pm.Model(coords={"group": range(4)}) as model:
            X = pm.Data("x", x)
            G = pm.Data("group_index", group)
            Y = pm.Data("y_obs", y)
            a = pm.Normal("a", 0, 1.5)
            sd = pm.HalfNormal("sd", 1)
            z = pm.Normal("z", dims="group")
            b = pm.Normal("b", 0, 1)
            pm.Bernoulli("y", logit_p=a + sd * z[G] + b * X, observed=Y)
        return model
    """
)
namespace: dict = {}
exec(MODEL_SOURCE, namespace)  # the same source runs in the subprocess test
tiny_model = namespace["tiny_model"]


def names(model: pm.Model) -> list[str]:
    return nutpie_compile.free_names(model)


def draws(compiled, seed: int = 5) -> dict[str, np.ndarray]:
    import nutpie

    tree = nutpie.sample(compiled, draws=30, tune=30, chains=2, cores=1, seed=seed, progress_bar=False)
    posterior = tree["posterior"].to_dataset() if hasattr(tree, "children") else tree.posterior
    return {name: np.asarray(posterior[name].values) for name in posterior.data_vars}


def logp_in_order_of(compiled, reference, x: np.ndarray) -> tuple[float, np.ndarray]:
    """``reference``'s log density and gradient at the point ``x`` given in ``compiled``'s variable order.

    nutpie orders the free variables of a frozen model differently from the model's own order.
    """
    names_, slices, _ = compiled.shape_info
    ref_names, ref_slices, _ = reference.shape_info
    where = dict(zip(ref_names, ref_slices, strict=True))
    x_ref = np.zeros(reference.n_dim)
    for name, part in zip(names_, slices, strict=True):
        if part.stop <= compiled.n_dim:
            x_ref[where[name]] = x[part]
    code, logp, grad_ref = compile_cache.call_logp(reference, x_ref)
    assert code == 0
    grad = np.zeros(compiled.n_dim)
    for name, part in zip(names_, slices, strict=True):
        if part.stop <= compiled.n_dim:
            grad[part] = grad_ref[where[name]]
    return logp, grad


def assert_same_draws(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.fixture(autouse=True)
def fresh_memory():
    """Each test starts without entries loaded by earlier tests in this process."""
    compile_cache.clear_memory()
    yield
    compile_cache.clear_memory()


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """A cache folder holding the tiny model's entry (compiled once), and the draws of that first compile."""
    root = tmp_path_factory.mktemp("compile_cache")
    compile_cache.clear_memory()
    compiled, how = compile_cache.load_or_compile(tiny_model(), names(tiny_model()), root)
    assert how == "compiled"
    return root, draws(compiled)


def copy_of(warm_root: Path, tmp_path: Path) -> Path:
    root = tmp_path / "cache"
    shutil.copytree(warm_root, root)
    return root


def test_cache_dir_env_and_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IPSBAYES_CACHE_DIR", str(tmp_path / "here"))
    assert compile_cache.cache_dir() == tmp_path / "here"
    for off in ("off", "OFF", "0", "none", ""):
        monkeypatch.setenv("IPSBAYES_CACHE_DIR", off)
        assert compile_cache.cache_dir() is None
    monkeypatch.delenv("IPSBAYES_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.cache_dir() == tmp_path / "xdg" / "ipsbayes" / "compiled"


def test_key_ignores_data_values_but_not_structure() -> None:
    key = compile_cache._structure(tiny_model(120, 1), names(tiny_model())).key
    assert compile_cache._structure(tiny_model(300, 2), names(tiny_model())).key == key  # new data, more rows
    with pm.Model(coords={"group": range(5)}) as other:  # another number of groups: other free shapes
        pm.Normal("z", dims="group")
    assert compile_cache._structure(other, ["z"]).key != key


@pytest.mark.sampling
def test_gradients_and_draws_equal_nutpie_compile(tmp_path: Path) -> None:
    """The cached functions are PyTensor's: gradients equal nutpie's own compile, and so do the draws."""
    import nutpie

    model = tiny_model()
    ours, how = compile_cache.load_or_compile(model, names(model), tmp_path)
    assert how == "compiled"
    theirs = nutpie.compile_pymc_model(model, backend="numba", freeze_model=False, var_names=names(model))
    frozen = nutpie.compile_pymc_model(model, backend="numba", freeze_model=True, var_names=names(model))
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.uniform(-2, 2, ours.n_dim)
        code, logp, grad = compile_cache.call_logp(ours, x)
        code_ref, logp_ref, grad_ref = compile_cache.call_logp(theirs, x)
        assert code == code_ref == 0
        assert logp == logp_ref
        np.testing.assert_array_equal(grad, grad_ref)
        logp_frozen, grad_frozen = logp_in_order_of(ours, frozen, x)
        np.testing.assert_allclose(logp, logp_frozen, rtol=1e-10)
        np.testing.assert_allclose(grad, grad_frozen, rtol=1e-8, atol=1e-10)
    assert_same_draws(draws(ours), draws(theirs))


@pytest.mark.sampling
def test_disk_hit_gives_the_same_draws(warm: tuple[Path, dict[str, np.ndarray]], tmp_path: Path) -> None:
    root = copy_of(warm[0], tmp_path)
    model = tiny_model()
    compiled, how = compile_cache.load_or_compile(model, names(model), root)
    assert how == "disk"
    assert_same_draws(draws(compiled), warm[1])
    again, how = compile_cache.load_or_compile(model, names(model), root)
    assert how == "memory"
    assert_same_draws(draws(again), warm[1])


def test_hit_with_new_data_of_another_length(warm: tuple[Path, dict[str, np.ndarray]], tmp_path: Path) -> None:
    """Another data set (more rows) loads the same entry and matches nutpie's own compile of that data."""
    import nutpie

    root = copy_of(warm[0], tmp_path)
    model = tiny_model(n=333, seed=9)
    compiled, how = compile_cache.load_or_compile(model, names(model), root)
    assert how == "disk"
    frozen = nutpie.compile_pymc_model(model, backend="numba", freeze_model=True, var_names=names(model))
    x = np.random.default_rng(3).uniform(-1, 1, compiled.n_dim)
    _, logp, grad = compile_cache.call_logp(compiled, x)
    logp_ref, grad_ref = logp_in_order_of(compiled, frozen, x)
    np.testing.assert_allclose(logp, logp_ref, rtol=1e-10)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-8, atol=1e-10)


@pytest.mark.sampling
@pytest.mark.parametrize("damage", ["numba data", "meta.json"])
def test_corrupt_entry_is_compiled_again(warm: tuple[Path, dict[str, np.ndarray]], tmp_path: Path, damage: str) -> None:
    root = copy_of(warm[0], tmp_path)
    (entry,) = [p for p in root.iterdir() if p.is_dir()]
    if damage == "numba data":
        for path in (entry / "__pycache__").glob("*.nbc"):
            path.write_bytes(path.read_bytes()[:100])
    else:
        (entry / "meta.json").write_text('{"format": ')
    model = tiny_model()
    compiled, how = compile_cache.load_or_compile(model, names(model), root)
    assert how == "compiled"
    assert_same_draws(draws(compiled), warm[1])
    compile_cache.clear_memory()  # the entry written again loads from disk
    assert compile_cache.load_or_compile(model, names(model), root)[1] == "disk"


def test_two_compiles_of_one_structure_both_succeed(tmp_path: Path) -> None:
    """Two processes compiling at once: the second publish finds the entry there and keeps its own copy."""
    model = tiny_model()
    structure = compile_cache._structure(model, names(model))
    first = compile_cache._compile(tmp_path, structure, model, names(model))
    second = compile_cache._compile(tmp_path, structure, model, names(model))
    assert [p.name for p in tmp_path.iterdir()] == [structure.key]  # one entry, no temporary folders left
    a = compile_cache._wrap(first, structure, model)
    b = compile_cache._wrap(second, structure, model)
    x = np.zeros(a.n_dim)
    assert compile_cache.call_logp(a, x)[1] == compile_cache.call_logp(b, x)[1]
    assert compile_cache.load_or_compile(model, names(model), tmp_path)[1] == "disk"


def test_cache_failure_falls_back_to_nutpie(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setenv("IPSBAYES_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(compile_cache, "load_or_compile", broken)
    compiled, reused, cache = nutpie_compile.compile_nutpie(tiny_model())
    assert (reused, cache) == (False, "fallback")
    assert compiled.n_dim == 7
    monkeypatch.setenv("IPSBAYES_CACHE_DIR", "off")
    assert nutpie_compile.compile_nutpie(tiny_model())[2] == "off"


@pytest.mark.sampling
@pytest.mark.parametrize("reuse", [False, True])
def test_the_cache_off_or_failing_gives_the_cached_models_draws(
    warm: tuple[Path, dict[str, np.ndarray]], monkeypatch: pytest.MonkeyPatch, reuse: bool
) -> None:
    """Same model, data and seed: the same draws whether the cache serves the model or not (outside review:
    with the cache off a single fit froze the data into the graph, and its draws differed from the first)."""

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setenv("IPSBAYES_CACHE_DIR", "off")
    off, _, how = nutpie_compile.compile_nutpie(tiny_model(), reuse=reuse)
    assert how == "off"
    assert_same_draws(draws(off), warm[1])
    monkeypatch.setenv("IPSBAYES_CACHE_DIR", str(warm[0]))
    monkeypatch.setattr(compile_cache, "load_or_compile", broken)
    failing, _, how = nutpie_compile.compile_nutpie(tiny_model(), reuse=reuse)
    assert how == "fallback"
    assert_same_draws(draws(failing), warm[1])


CHILD = MODEL_SOURCE + textwrap.dedent(
    """
    import json
    import nutpie
    from ipsbayes.nutpie_compile import compile_nutpie

    compiled, reused, cache = compile_nutpie(tiny_model())
    tree = nutpie.sample(compiled, draws=30, tune=30, chains=2, cores=1, seed=5, progress_bar=False)
    print(json.dumps({"cache": cache, "reused": reused, "b": tree.posterior["b"].values.ravel().tolist()}))
    """
)


@pytest.mark.sampling
def test_hit_in_a_new_process(tmp_path: Path) -> None:
    """A second process of the same structure loads the compiled model and draws the same."""
    environment = {
        **os.environ,
        "IPSBAYES_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
        "PYTHONWARNINGS": "ignore",
    }
    runs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", CHILD], env=environment, capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, done.stderr[-3000:]
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert [run["cache"] for run in runs] == ["miss", "hit"]
    assert runs[1]["reused"] is True
    assert runs[0]["b"] == runs[1]["b"]


def test_sweep_keeps_the_most_recently_used_entries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(compile_cache, "MAX_ENTRIES", 3)
    keys = [f"{i:032x}" for i in range(5)]
    for i, key in enumerate(keys):
        (tmp_path / key).mkdir()
        (tmp_path / key / "meta.json").write_text("{}")
        os.utime(tmp_path / key / "meta.json", (1000 + i, 1000 + i))
    dead = tmp_path / f".tmp-{keys[0]}-123-{'a' * 8}"
    dead.mkdir()
    os.utime(dead, (0, 0))
    # what a user keeps in the folder is never touched, however old
    for name in ("notes", ".tmp-mine"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "meta.json").write_text("{}")
        os.utime(tmp_path / name / "meta.json", (0, 0))
        os.utime(tmp_path / name, (0, 0))
    compile_cache._sweep(tmp_path)
    # room for the entry about to be published: the two oldest and one more go
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp-mine", keys[3], keys[4], "notes"]


def test_structure_numba_cannot_cache_is_not_served(tmp_path: Path) -> None:
    """A structure marked uncacheable raises, so compile_nutpie compiles it with nutpie instead."""
    model = tiny_model()
    key = compile_cache._structure(model, names(model)).key
    (tmp_path / f"{key}.nocache").touch()
    with pytest.raises(compile_cache.CacheUnavailable):
        compile_cache.load_or_compile(model, names(model), tmp_path)


@pytest.mark.sampling
@pytest.mark.parametrize("cache", ["on", pytest.param("off", marks=pytest.mark.slow)])  # each about a minute
def test_the_first_run_on_a_cold_machine_draws_what_later_runs_draw(tmp_path: Path, cache: str) -> None:
    """Fresh PyTensor and numba caches: the first process compiles, the second loads; same seed, same draws.

    Compiled in the process that samples, the log density differed in the last bits from the cached code a
    later process loads (numba's fresh fastmath code), so the first run on a machine drew other draws
    (review of this round); the compile now runs in a forked child and the sampling process loads its code.
    """
    environment = {
        **os.environ,
        "IPSBAYES_CACHE_DIR": str(tmp_path / "cache") if cache == "on" else "off",
        "PYTENSOR_FLAGS": f"base_compiledir={tmp_path / 'pytensor'}",
        "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
        "PYTHONWARNINGS": "ignore",
    }
    runs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", SLEEPSTUDY_CHILD],
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert [run["cache"] for run in runs] == (["miss", "hit"] if cache == "on" else ["off", "off"])
    assert runs[0]["logp"] == runs[1]["logp"]  # bit for bit, at five points
    assert runs[0]["draws"] == runs[1]["draws"]


#: lme4's sleepstudy with correlated slopes: its log density showed the difference (the tiny model's did not)
SLEEPSTUDY_CHILD = textwrap.dedent(
    f"""
    import json
    import numpy as np
    import nutpie
    from ipsbayes import compile_cache
    from ipsbayes.nutpie_compile import compile_nutpie
    from ipsbayes.runner import check

    plan = check({str(REPO / "examples" / "sleepstudy" / "sleepstudy.toml")!r})
    compiled, reused, cache = compile_nutpie(plan.model)
    rng = np.random.default_rng(0)
    logp = []
    for _ in range(5):
        code, value, grad = compile_cache.call_logp(compiled, rng.uniform(-1, 1, compiled.n_dim))
        logp.append([float(value).hex(), [float(g).hex() for g in grad]])
    tree = nutpie.sample(compiled, draws=20, tune=50, chains=1, cores=1, seed=3, progress_bar=False)
    draws = np.asarray(tree.posterior["intercept"].values).ravel().tolist()
    print(json.dumps({{"cache": cache, "logp": logp, "draws": draws}}))
    """
)


def test_freeze_data_compiles_the_data_into_the_graph_and_says_so() -> None:
    """sampler.freeze_data: the frozen graph (faster gradients for some models) is a config setting, recorded."""
    from ipsbayes.config import RunConfig
    from ipsbayes.sampling import resolve_settings

    compiled, reused, how = nutpie_compile.compile_nutpie(tiny_model(), freeze=True)
    assert (reused, how) == (False, "frozen") and compiled.n_dim == 7
    config = RunConfig.model_validate(
        {"name": "f", "data": {"main": "x.csv"}, "model": {"kind": "multilevel"}, "sampler": {"freeze_data": True}}
    )
    assert resolve_settings(config.sampler)["freeze_data"] is True


def test_the_warm_up_child_runs_once_per_structure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With the cache off every run compiled twice (review of this round): a marker beside numba's cache says
    the structure was compiled into it, and a later run skips the child."""
    import numba

    from ipsbayes import forked

    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "numba"))
    calls = []
    real = forked.in_child

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(forked, "in_child", counted)
    nutpie_compile.warm_numba_cache(tiny_model())
    nutpie_compile.warm_numba_cache(tiny_model())
    assert len(calls) == (1 if forked.can_fork() else 0)
    frozen_other_data = tiny_model(seed=2)  # frozen: the data are in the graph, so other data compile again
    nutpie_compile.warm_numba_cache(frozen_other_data, freeze=True)
    nutpie_compile.warm_numba_cache(tiny_model(), freeze=True)
    assert len(calls) == (3 if forked.can_fork() else 0)
