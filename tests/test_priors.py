"""Prior sets: every entry has a rationale, overrides work, bad entries are named."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pymc as pm
import pytest

from ipsbayes.errors import ConfigError
from ipsbayes.models import REGISTRY
from ipsbayes.priors import DISTRIBUTIONS, check_prior, load_prior_set, resolve_prior_set

from .conftest import REPO

PRIOR_DIR = REPO / "priors"


@pytest.mark.parametrize("path", sorted(PRIOR_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_every_entry_is_valid_and_has_a_source(path: Path) -> None:
    raw = tomllib.loads(path.read_text())
    assert raw.get("description"), f"{path.name} needs a description"
    entries = {k: v for k, v in raw.items() if isinstance(v, dict)}
    assert entries
    for name, entry in entries.items():
        assert len(str(entry.get("source", ""))) > 30, f"{path.name}:{name} needs a real source or rationale"
        assert check_prior(name, entry, path.name) == []


@pytest.mark.parametrize("set_name", ["weakly_informative", "ips_literature"])
def test_required_sets_cover_every_model_family(set_name: str) -> None:
    for family in REGISTRY.values():
        prior_set, problems = resolve_prior_set(set_name, family.prior_names, search_dirs=[PRIOR_DIR])
        assert problems == [], problems
        assert set(prior_set.priors) == set(family.prior_names)


def test_partial_override_keeps_distribution_and_records_source() -> None:
    needed = {"sd_service": "SD"}
    prior_set = load_prior_set("weakly_informative", needed, {"sd_service": {"sigma": 0.25}}, [PRIOR_DIR])
    prior = prior_set["sd_service"]
    assert prior.dist == "HalfNormal" and prior.params == {"sigma": 0.25}
    assert "override" in prior.source


def test_full_override_replaces_distribution() -> None:
    prior_set = load_prior_set(
        "weakly_informative",
        {"beta": "b"},
        {"beta": {"dist": "StudentT", "nu": 3, "mu": 0, "sigma": 1, "source": "robust"}},
        [PRIOR_DIR],
    )
    assert prior_set["beta"].dist == "StudentT" and prior_set["beta"].source == "robust"


def test_bad_entries_are_named(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text(
        'description = "x"\n[beta]\ndist = "Normal"\nmu = 0\nsource = "because"\n'
        '[sd_service]\ndist = "HalfNormall"\nsigma = 1\nsource = "because"\n'
    )
    _, problems = resolve_prior_set("broken", {"beta": "", "sd_service": "", "intercept": ""}, search_dirs=[tmp_path])
    text = "\n".join(problems)
    assert "'beta' (Normal) is missing parameter 'sigma'" in text
    assert "unknown dist 'HalfNormall'" in text and "HalfNormal" in text
    assert "no entry 'intercept'" in text
    with pytest.raises(ConfigError):
        load_prior_set("broken", {"beta": ""}, search_dirs=[tmp_path])


def test_every_supported_distribution_builds() -> None:
    from ipsbayes.priors import Prior

    examples = {
        "Normal": {"mu": 0, "sigma": 1},
        "HalfNormal": {"sigma": 1},
        "StudentT": {"nu": 3, "sigma": 1},
        "HalfStudentT": {"nu": 3, "sigma": 1},
        "Cauchy": {"alpha": 0, "beta": 1},
        "HalfCauchy": {"beta": 1},
        "Exponential": {"lam": 1},
        "Gamma": {"alpha": 2, "beta": 1},
        "LogNormal": {"mu": 0, "sigma": 1},
        "Beta": {"alpha": 2, "beta": 2},
        "Uniform": {"lower": 0, "upper": 1},
        "InverseGamma": {"alpha": 2, "beta": 1},
        "NormalMixture": {"w": (0.8, 0.2), "mu": (1, 0), "sigma": (0.5, 3)},
    }
    assert set(examples) | {"LKJ"} == set(DISTRIBUTIONS)
    with pm.Model() as model:
        for dist, params in examples.items():
            numbers = {k: tuple(map(float, v)) if isinstance(v, tuple) else float(v) for k, v in params.items()}
            Prior(dist, numbers, "test").create(dist.lower())
    assert len(model.free_RVs) == len(examples)


MIXTURE = (
    '[treatment_effect]\ndist = "NormalMixture"\nw = [0.6, 0.2, 0.2]\nmu = [1.0, 0.5, 0.8]\n'
    'sigma = [0.3, 0.6, 2.8]\nlabels = ["map1", "map2", "robust"]\nsource = "test"\n'
)


def test_mixture_prior_reads_builds_and_matches_its_density(tmp_path: Path) -> None:
    from scipy import stats

    (tmp_path / "mix.toml").write_text(MIXTURE)
    prior_set = load_prior_set("mix", {"treatment_effect": ""}, search_dirs=[tmp_path])
    prior = prior_set["treatment_effect"]
    assert prior.params["w"] == (0.6, 0.2, 0.2) and prior.labels == ("map1", "map2", "robust")
    assert prior.mixture().robust_index == 2
    assert "0.6 x N(1, 0.3)" in prior.describe()
    with pm.Model() as model:
        prior.create("treatment_effect")
    x = 0.4
    components = zip((0.6, 0.2, 0.2), (1, 0.5, 0.8), (0.3, 0.6, 2.8), strict=True)
    expected = np.log(sum(w * stats.norm.pdf(x, m, s) for w, m, s in components))
    logp = model.compile_logp()({"treatment_effect": x})
    assert abs(float(logp) - expected) < 1e-9
    assert prior.as_dict()["labels"] == ["map1", "map2", "robust"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"w": "[0.6, 0.2]"}, "same non-zero length"),
        ({"w": "[0.6, 0.3, 0.2]"}, "sum to 1"),
        ({"sigma": "[0.3, 0.0, 2.8]"}, "must be > 0"),
        ({"mu": '"high"'}, "'mu' must be a list of numbers"),
        ({"labels": "[1, 2, 3]"}, "'labels' must be a list of names"),
        ({"sd": "[1, 2, 3]"}, "unknown parameter 'sd'"),
    ],
)
def test_invalid_mixture_priors_are_reported(tmp_path: Path, change: dict[str, str], message: str) -> None:
    lines = []
    for line in MIXTURE.splitlines():
        key = line.split(" = ")[0]
        lines.append(f"{key} = {change[key]}" if key in change else line)
    lines += [f"{key} = {value}" for key, value in change.items() if key not in MIXTURE]
    (tmp_path / "bad.toml").write_text("\n".join(lines) + "\n")
    _, problems = resolve_prior_set("bad", {"treatment_effect": ""}, search_dirs=[tmp_path])
    assert any(message in p for p in problems), problems
