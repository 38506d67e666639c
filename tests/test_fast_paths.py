"""Speed tricks after sampling give the same numbers and pixels as the plain calls they replace (issue 15).

- predictive and prior draws use PyTensor's C backend (``backends.C_MODE``), not
  PyTensor 3's default numba backend that compiles again in every process;
- the sampler checks read divergences, tree depth and E-BFMI without ``az.diagnose``'s second
  ESS and R-hat pass;
- report figures are laid out once for both files, and PNGs are compressed on a worker thread.
"""

from __future__ import annotations

import io

import arviz as az
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pymc as pm
import pytensor
import pytest
import xarray as xr
from PIL import Image
from pytensor.compile.mode import get_mode

from ipsbayes.backends import C_MODE, draw_mode
from ipsbayes.diagnostics import sampler_statistics
from ipsbayes.report.figure_files import FigureWriter, freeze_layout, rgba_pixels


@pytest.mark.skipif(not pytensor.config.cxx, reason="no C++ compiler: PyTensor's default backend is kept")
def test_post_sampling_functions_use_the_c_backend():
    # PyTensor 3 made FAST_RUN a numba mode; the name alone no longer says which backend runs
    linker = get_mode(C_MODE["mode"]).linker
    assert type(linker).__name__ == "VMLinker" and linker.use_cloop


def test_categorical_draws_stay_on_numba():
    # the C VM draws categorical variables through a Python loop over rows (benchmarked 2x slower)
    with pm.Model() as categorical:
        pm.Categorical("y", p=np.full((30, 3), 1 / 3), observed=np.zeros(30, dtype=int))
    with pm.Model() as binary:
        pm.Bernoulli("y", p=0.3, observed=np.zeros(30, dtype=int))
    assert draw_mode(categorical) == {"mode": "NUMBA"}
    assert draw_mode(binary) == C_MODE
    assert draw_mode(categorical, var_names=[]) == C_MODE  # only the variables drawn count


@pytest.mark.parametrize(
    ("config", "names"),
    [
        ("ipsung_outcomes", ("category_share", "service_sd")),
        ("ipsung_employment", ("outcome_rate", "fidelity_contrast", "sd_service")),
        ("ipsung_fidelity", ("outcome_rate", "fidelity_contrast")),
    ],
)
def test_prior_estimands_need_no_outcome_draws(make_config, small_ipsung, monkeypatch, config, names):
    # without the outcome PyMC seeds the parameters' generators differently, so the draws are other
    # draws of the same prior: the estimands agree within Monte Carlo error, not exactly
    from ipsbayes.priors_alone import prior_estimands
    from ipsbayes.runner import check

    plan = check(make_config(config, data=small_ipsung))
    assert plan.family.prior_draws_only
    fast = prior_estimands(plan.family, plan.model, plan.data, plan.spec, plan.config, draws=400)
    monkeypatch.setattr(type(plan.family), "prior_draws_only", False)
    full = prior_estimands(plan.family, plan.model, plan.data, plan.spec, plan.config, draws=400)
    assert set(fast.data_vars) == set(full.data_vars)
    for name in names:
        a, b = fast[name], full[name]
        se = np.sqrt((a.var(("chain", "draw")) + b.var(("chain", "draw"))) / 400)
        z = np.abs(a.mean(("chain", "draw")) - b.mean(("chain", "draw"))) / se
        assert float(z.max()) < 4.5, (name, z.values)


def test_log_likelihood_on_the_c_backend_equals_numba():
    rng = np.random.default_rng(3)
    x = rng.normal(size=60)
    y = (rng.uniform(size=60) < 1 / (1 + np.exp(-(0.3 + 0.8 * x)))).astype(int)
    groups = rng.integers(0, 5, size=60)
    with pm.Model() as model:
        a = pm.Normal("a", 0, 1.5)
        b = pm.Normal("b", 0, 1)
        sd = pm.HalfNormal("sd", 1)
        u = pm.Normal("u", 0, sd, shape=5)
        pm.Bernoulli("y", logit_p=a + u[groups] + b * x, observed=y)
    draws = pm.sample_prior_predictive(draws=40, model=model, random_seed=1, var_names=["a", "b", "sd", "u"])
    posterior = draws["prior"].to_dataset()
    values = {}
    for mode in (C_MODE["mode"], "NUMBA"):
        tree = xr.DataTree.from_dict({"posterior": posterior})
        pm.compute_log_likelihood(tree, model=model, progressbar=False, compile_kwargs={"mode": mode})
        values[mode] = tree["log_likelihood"]["y"].values
    np.testing.assert_allclose(values[C_MODE["mode"]], values["NUMBA"], rtol=1e-12, atol=1e-12)


def test_sampler_statistics_equal_az_diagnose():
    rng = np.random.default_rng(5)
    chains, draws = 3, 200
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}
    posterior = xr.Dataset({"mu": (("chain", "draw"), rng.normal(size=(chains, draws)))}, coords=coords)
    stats = xr.Dataset(
        {
            "diverging": (("chain", "draw"), rng.uniform(size=(chains, draws)) < 0.02),
            "reached_max_treedepth": (("chain", "draw"), rng.uniform(size=(chains, draws)) < 0.05),
            "energy": (("chain", "draw"), np.cumsum(rng.normal(size=(chains, draws)), axis=1)),
        },
        coords=coords,
    )
    tree = xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})
    _, expected = az.diagnose(tree, return_diagnostics=True, show_diagnostics=False)
    ours = sampler_statistics(tree)
    assert ours["divergent"]["n_divergent"] == expected["divergent"]["n_divergent"] > 0
    assert ours["treedepth"]["n_max"] == expected["treedepth"]["n_max"] > 0
    np.testing.assert_allclose(ours["bfmi"]["bfmi_values"], expected["bfmi"]["bfmi_values"])
    # statistics a sampler did not report are absent, as in az.diagnose
    bare = xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats[["diverging"]]})
    assert set(sampler_statistics(bare)) == {"divergent"}
    assert sampler_statistics(xr.DataTree.from_dict({"posterior": posterior})) == {}


def constrained_figure() -> plt.Figure:
    """A figure with text on every side, so constrained layout has work to do."""
    fig, axes = plt.subplots(2, 2, figsize=(6.3, 4.2), layout="constrained")
    for i, ax in enumerate(axes.ravel()):
        ax.plot(np.linspace(0, 1, 50) ** (i + 1), label=f"curve {i}")
        ax.set_title(f"Panel {i}: a title of some length")
        ax.set_xlabel("a rather long label of the horizontal axis")
        ax.set_ylabel("vertical label")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center")
    fig.supxlabel("shared horizontal label")
    return fig


def test_frozen_layout_is_the_layout_savefig_computes():
    with matplotlib.rc_context({"figure.constrained_layout.use": True}), plt.ioff():
        fig = constrained_figure()
        fresh = constrained_figure()
        fig.draw_without_rendering()
        freeze_layout(fig)
        assert fig.get_layout_engine() is None
        fresh.savefig(io.BytesIO(), format="png", dpi=300)  # laid out by savefig at the file's DPI
        for frozen_ax, fresh_ax in zip(fig.axes, fresh.axes, strict=True):
            # the same boxes to within a point on a 6.3-inch figure
            np.testing.assert_allclose(
                frozen_ax.get_position().bounds, fresh_ax.get_position().bounds, atol=1.0 / (72 * 4.2)
            )
        plt.close(fig)
        plt.close(fresh)


def test_figure_writer_writes_the_pixels_savefig_writes(tmp_path):
    # the report draws under rc constrained layout, where savefig re-installed an engine on leaving
    with matplotlib.rc_context({"figure.constrained_layout.use": True}), plt.ioff():
        fig = constrained_figure()
        fig.draw_without_rendering()
        freeze_layout(fig)
        with FigureWriter(dpi=150) as writer:
            writer.save(fig, tmp_path / "f.png", "png")
            assert fig.get_layout_engine() is None  # still frozen for the next file
            writer.save(fig, tmp_path / "f.svg", "svg")
        assert fig.get_layout_engine() is None
        expected = io.BytesIO()
        with matplotlib.rc_context({"figure.constrained_layout.use": False}):
            fig.savefig(expected, format="png", dpi=150, metadata={"Software": None})
        plt.close(fig)
    ours = Image.open(tmp_path / "f.png")
    theirs = Image.open(expected)
    assert ours.size == theirs.size
    np.testing.assert_array_equal(np.asarray(ours.convert("RGBA")), np.asarray(theirs.convert("RGBA")))
    assert ours.info["dpi"] == theirs.info["dpi"]  # PNG stores whole pixels per metre: 150.012
    assert (tmp_path / "f.svg").read_text().startswith("<?xml")
    assert rgba_pixels(fig, 72).shape == (int(4.2 * 72), int(6.3 * 72), 4)


@pytest.mark.parametrize("transparent", [False, True])
def test_png_keeps_alpha_only_where_a_pixel_is_not_opaque(tmp_path, transparent):
    from ipsbayes.report.figure_files import write_png

    with plt.ioff():
        fig = constrained_figure()
        if transparent:
            fig.patch.set_alpha(0.0)
        fig.draw_without_rendering()
        pixels = rgba_pixels(fig, 40)
        plt.close(fig)
    assert (pixels[..., 3] < 255).any() == transparent
    write_png(pixels, tmp_path / "f.png", 40)
    image = Image.open(tmp_path / "f.png")
    assert image.mode == ("RGBA" if transparent else "RGB")
    np.testing.assert_array_equal(np.asarray(image.convert("RGBA")), pixels)  # the same pixels either way


def test_figure_writer_reports_a_failed_write(tmp_path):
    with plt.ioff():
        fig = constrained_figure()
        with pytest.raises(OSError), FigureWriter(dpi=50) as writer:
            writer.save(fig, tmp_path / "missing-folder" / "f.png", "png")
        plt.close(fig)


def test_rank_envelope_is_arviz_envelope_computed_once_per_draw_count():
    from arviz_stats.ecdf_utils import ecdf_pit

    from ipsbayes.report.figures import rank_envelope

    x, _, lower, upper = ecdf_pit(np.linspace(0, 1, 137), 0.99, 1000)
    cached = rank_envelope(137, 0.99)
    for ours, theirs in zip(cached, (x, lower, upper), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert rank_envelope(137, 0.99)[1] is cached[1]  # the second panel with 137 draws reuses it
    with pytest.raises(ValueError):
        cached[1][0] = 1.0  # read-only: a figure cannot change what later figures get


def test_initial_point_checked_by_the_compiled_model_then_named_by_pymc(monkeypatch):
    # the compiled log-density at nutpie's first starting point replaces PyMC's per-variable compile
    # (0.2-0.9 s per fit); that slower check runs only to name the variables once the value is not finite
    from ipsbayes import initial_point, nutpie_compile

    with pm.Model() as good:
        mu = pm.Normal("mu")
        pm.Normal("y", mu, 1.0, observed=[0.5, -0.2])
    with pm.Model() as impossible:
        mu = pm.Normal("mu")
        pm.Normal("y", mu, 1.0, observed=[0.5, np.inf])

    def per_variable_check(model):
        raise AssertionError("the per-variable check ran for a finite log-density")

    compiled, _, _ = nutpie_compile.compile_nutpie(good)
    with monkeypatch.context() as patch:
        patch.setattr(initial_point, "nonfinite_initial_logps", per_variable_check)
        initial_point.check_initial_point(compiled, good)
    compiled, _, _ = nutpie_compile.compile_nutpie(impossible)
    with pytest.raises(initial_point.InitialPointError) as raised:
        initial_point.check_initial_point(compiled, impossible)
    assert raised.value.names == ["y"]
    assert initial_point.nonfinite_initial_logps(impossible) == ["y"]


def test_fit_names_the_family_when_the_initial_point_is_impossible(make_config, small_ipsung, monkeypatch):
    from ipsbayes import pipeline
    from ipsbayes.errors import ModelError
    from ipsbayes.initial_point import InitialPointError
    from ipsbayes.runner import check

    plan = check(make_config("ipsung_employment", data=small_ipsung))

    def impossible(*args, **kwargs):
        raise InitialPointError(["intercept"])

    monkeypatch.setattr(pipeline, "sample", impossible)
    with pytest.raises(ModelError, match=rf"The {plan.family.kind} model .* initial point for: intercept; check"):
        pipeline.fit(plan.family, plan.spec, plan.priors, plan.config, data=plan.data)


@pytest.mark.parametrize("equations", [2, 3])
def test_categorical_means_equal_the_means_of_the_probabilities(equations):
    # compiled row-by-row accumulation against the (draws, rows, categories) array it replaces,
    # with linear predictors up to +-40 (saturated logistic and softmax)
    from ipsbayes.models.categorical_predict import CategoricalPredictor
    from ipsbayes.models.predict import group_weights

    rng = np.random.default_rng(3)
    draws, rows, terms, services = 40, 300, 5, 7
    predictor = CategoricalPredictor(
        alpha=rng.normal(0, 2, (draws, equations)),
        beta=rng.normal(0, 1, (draws, equations, terms)),
        service_effect=rng.normal(0, 1, (draws, services, equations)),
        X=rng.normal(0, 3, (rows, terms)) * np.r_[1, 1, 1, 1, 8],
        service_idx=rng.integers(0, services, rows),
    )
    everything = predictor.probabilities(slice(None))
    np.testing.assert_allclose(predictor.mean_probabilities(), everything.mean(axis=1), rtol=1e-12, atol=1e-15)
    weights = group_weights(predictor.service_idx, rng.uniform(0.5, 2.0, rows), services)
    grouped = np.matmul(everything.transpose(0, 2, 1), weights.toarray()).transpose(0, 2, 1)
    np.testing.assert_allclose(predictor.mean_probabilities(groups=weights), grouped, rtol=1e-12, atol=1e-15)
    shifted = predictor.X + 1.0
    np.testing.assert_allclose(
        predictor.mean_probabilities(X=shifted),
        predictor.probabilities(slice(None), shifted).mean(axis=1),
        rtol=1e-12,
        atol=1e-15,
    )


def test_lay_out_gives_the_positions_draw_without_rendering_gives():
    # the layout engine alone, without walking every artist afterwards: the same axes positions
    from ipsbayes.report.layout import lay_out

    def figure():
        fig, axes = plt.subplots(2, 2, layout="constrained", figsize=(6.3, 4))
        for i, ax in enumerate(axes.flat):
            ax.plot(np.arange(10) * 10**i)
            ax.set_xlabel("a rather long label on the x axis " * (i % 2 + 1))
            ax.set_ylabel("y" * (i + 1))
        fig.suptitle("title")
        return fig

    ours, reference = figure(), figure()
    lay_out(ours)
    reference.draw_without_rendering()
    for a, b in zip(ours.axes, reference.axes, strict=True):
        np.testing.assert_allclose(a.get_position().bounds, b.get_position().bounds, atol=1e-12)
    plt.close(ours)
    plt.close(reference)


@pytest.mark.parametrize("kind", ["eti", "hdi"])
def test_summary_rows_read_from_numpy_equal_the_per_element_selections(kind):
    from ipsbayes.report.tables import summarise

    rng = np.random.default_rng(5)
    ages = np.array([18.5, 21.0 + 1 / 3])
    estimands = xr.Dataset(
        {
            "scalar": (("chain", "draw"), rng.normal(2, 1, (2, 50)), {"null": 0.0, "label": "a scalar"}),
            "by_month": (("chain", "draw", "month"), rng.normal(0, 1, (2, 50, 3)), {"null": 0.0}),
            # extra dims before and between the sample dims, one of them with float coordinates
            "grid": (("outcome", "chain", "age", "draw"), rng.normal(-1, 2, (3, 2, 2, 50)), {"null": 0.0}),
        },
        coords={"month": [3, 6, 12], "outcome": ["work", "school", "none"], "age": ages},
    )
    table = summarise(estimands, kind, 0.8, {"by_month": 0.5, "grid": -0.5})
    assert list(table["estimand"]) == ["scalar"] + ["by_month"] * 3 + ["grid"] * 6
    bounds = (az.hdi if kind == "hdi" else az.eti)(estimands, prob=0.8, dim=["chain", "draw"])
    grid = [("grid", {"outcome": o, "age": a}) for o in ["work", "school", "none"] for a in ages]
    for (name, where), (_, row) in zip(
        [("scalar", {})] + [("by_month", {"month": m}) for m in (3, 6, 12)] + grid, table.iterrows(), strict=True
    ):
        draws = estimands[name].sel(where)
        values = draws.values.ravel()
        assert row["median"] == float(draws.median()) and row["mean"] == pytest.approx(float(draws.mean()), 1e-12)
        assert row["sd"] == pytest.approx(float(draws.std()), rel=1e-12)
        assert row["lower"] == float(bounds[name].sel(where).sel(ci_bound="lower"))
        assert row["upper"] == float(bounds[name].sel(where).sel(ci_bound="upper"))
        assert row["p_above_null"] == np.mean(values > 0.0)
        if name != "scalar":
            threshold = {"by_month": 0.5, "grid": -0.5}[name]
            assert row["p_above_threshold"] == np.mean(values > threshold)
    assert table["element"].iloc[4:6].tolist() == ["work, 18.5", "work, 21.33"]


@pytest.mark.parametrize("n", [10, 512, 513, 4000, 12_345])
def test_thinned_ecdf_steps_stay_within_one_step_of_the_full_ecdf(n):
    """The power-scaling figure draws each ECDF through at most 512 draws: under a pixel from the full ECDF."""
    from ipsbayes.report.figures_sensitivity import ECDF_POINTS, ecdf_steps

    draws = np.sort(np.random.default_rng(n).standard_t(3, size=n))
    draws[n // 3 : n // 3 + 5] = draws[n // 3]  # ties, as a discrete estimand gives
    x, y = ecdf_steps(draws)
    assert x.size == min(n, ECDF_POINTS) and x[0] == draws[0] and x[-1] == draws[-1] and y[-1] == 1.0
    grid = np.concatenate([draws, (draws[1:] + draws[:-1]) / 2, [draws[0] - 1, draws[-1] + 1]])
    full = np.searchsorted(draws, grid, side="right") / n
    index = np.searchsorted(x, grid, side="right") - 1  # the step "post" drawn at each grid point
    drawn = np.where(index >= 0, y[np.maximum(index, 0)], 0.0)
    assert np.all(drawn <= full + 1e-12)
    assert np.max(full - drawn) <= (1 / (ECDF_POINTS - 1) if n > ECDF_POINTS else 0.0) + 1e-12


def test_arviz_base_is_imported_before_pymc():
    """runner.py imports arviz_base first: after pymc's 2,000 modules its import costs 0.1 s more (inspect.stack)."""
    import subprocess
    import sys

    code = "import sys, ipsbayes.runner; m = list(sys.modules); print(m.index('arviz_base') < m.index('pymc'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"


def test_branch_free_softplus_equals_pytensor_softplus_and_its_gradient():
    """softplus_graph: PyTensor's softplus to 5e-16 max(1, |x|) relative (exp2's argument -|x| log2 e is rounded),
    and the exact gradient sigmoid(x), 0.5 at 0."""
    import pytensor.tensor as pt

    from ipsbayes.families.base import softplus_graph

    x = pt.dvector("x")
    ours = softplus_graph(x)
    f = pytensor.function([x], [ours, pt.softplus(x), pytensor.grad(ours.sum(), x)])
    edges = [-1e308, -800.0, -40.0, -37.0, -1e-300, 0.0, 1e-300, 18.0, 33.3, 40.0, 800.0, 1e300]
    values = np.concatenate([edges, np.random.default_rng(2).normal(0, 5, 1000)])
    mine, reference, gradient = f(values)
    tolerance = 5e-16 * np.maximum(1.0, np.abs(values)) * np.abs(reference)
    assert np.all(np.isfinite(mine)) and np.all(np.abs(mine - reference) <= tolerance)
    with np.errstate(over="ignore"):
        sigmoid = 1.0 / (1.0 + np.exp(-values))
    assert np.all(np.abs(gradient - sigmoid) <= 1e-15)
    assert gradient[values == 0.0][0] == 0.5


def test_softplus_graph_compiles_to_one_exponential_per_element():
    """PyTensor must not rewrite softplus_graph's log1p(exp2(.)) into its softplus (a second exponential in
    the gradient, 23.7 -> 30.8 us per gradient of the reference model at 1,500 rows): the compiled
    value-and-gradient loop holds one exp2, one log1p and no exp, softplus or sigmoid."""
    import pytensor.tensor as pt

    from ipsbayes.families.base import softplus_graph

    x = pt.dvector("x")
    value = softplus_graph(x).sum()
    f = pytensor.function([x], [value, pytensor.grad(value, x)], mode="NUMBA")
    names: list[str] = []

    def collect(fgraph) -> None:
        for node in fgraph.toposort():
            op = getattr(node.op, "scalar_op", node.op)
            inner = getattr(op, "fgraph", None) or getattr(node.op, "fgraph", None)
            if inner is not None:
                collect(inner)
            else:
                names.append(type(op).__name__.lower())

    collect(f.maker.fgraph)
    assert names.count("exp2") == 1 and names.count("log1p") == 1, names
    assert not {"exp", "softplus", "sigmoid"} & set(names), names


@pytest.mark.parametrize("dims", [(), ("service",), ("service", "term"), ("term", "service")])
def test_draws_array_equals_xarray_stacking(dims):
    """The reshape gives the array xarray's stack over (chain, draw) gives, dimension order kept."""
    from ipsbayes.models.base import draws_array

    rng = np.random.default_rng(3)
    sizes = {"service": 4, "term": 3}
    shape = (3, 5, *(sizes[d] for d in dims))
    values = xr.DataArray(rng.normal(size=shape), dims=("chain", "draw", *dims))
    posterior = xr.Dataset({"x": values, "y": values.transpose(*dims, "draw", "chain")})
    for name in ("x", "y"):
        stacked = posterior[name].stack(sample=("chain", "draw")).transpose("sample", ...).to_numpy()
        assert np.array_equal(draws_array(posterior, name), stacked)
