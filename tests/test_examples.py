"""Published multilevel and CACE analyses, refitted by ipsbayes at the ci profile (loose tolerances).

The numbers in the README table come from ``python examples/reproduce.py`` at the final profile;
here each example's posterior mean must lie within ``tolerance`` x the source's posterior SD
(Bayesian sources, fitted with the source's priors) or standard error (ML sources) of the
published value, plus a Monte Carlo allowance for the short ci run.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest

from .conftest import REPO

_spec = importlib.util.spec_from_file_location("examples_reproduce", REPO / "examples" / "reproduce.py")
reproduce = importlib.util.module_from_spec(_spec)
sys.modules["examples_reproduce"] = reproduce
_spec.loader.exec_module(reproduce)

#: too slow for the 10-minute CI budget at the ci profile (7,584 rows, 340 crossed effects: about 1-2 minutes);
#: run with IPSBAYES_ALL_EXAMPLES=1, and by examples/reproduce.py. Its crossed design is built in CI by the
#: contract test (tests/test_models_contract.py).
SLOW = {"verbagg"}


def test_every_example_has_data_source_and_published_numbers() -> None:
    folders = {path.parent.name for path in REPO.glob("examples/*/*.toml")}
    # with their own tests: the time-to-event reference (tests/test_reference_alda.py) and RBesT
    # MAP example (tests/test_map_prior.py, tests/test_mixture.py)
    assert folders == {example.name for example in reproduce.EXAMPLES} | {"alda_first_sex", "rbest_as"}
    for name in folders:
        folder = REPO / "examples" / name
        text = next(folder / f for f in ("SOURCE.md", "README.md") if (folder / f).exists()).read_text()
        assert "Licence" in text and ("Citation" in text or "## Source" in text), name


#: in the default run (CI): two multilevel and two CACE analyses, about 3-4 s each at the ci profile;
#: the others (7-10 s each) run in `make test-slow`, and all of them at the default profile in `make reproduce`
IN_CI = {"cbpp", "rats", "vitamin_a", "jobs2"}


def _marked(example):
    marks = [] if example.name in IN_CI else [pytest.mark.slow]
    return pytest.param(example, id=example.name, marks=marks)


@pytest.mark.sampling
@pytest.mark.parametrize("example", [_marked(e) for e in reproduce.EXAMPLES])
def test_example_reproduces_the_published_numbers(example) -> None:
    if example.name in SLOW and not os.environ.get("IPSBAYES_ALL_EXAMPLES"):
        pytest.skip("slow example: set IPSBAYES_ALL_EXAMPLES=1 (numbers in examples/results.md)")
    posterior, estimands, status = reproduce.fit_example(example, profile="ci")
    assert status["status"] in {"pass", "warn"}, status
    failures = []
    for quantity in example.quantities:
        draws = quantity.get(posterior, estimands)
        mcse = np.std(draws) / np.sqrt(100.0)  # at least ~100 effective draws in a ci fit
        difference = abs(float(np.mean(draws)) - quantity.published)
        if difference > quantity.tolerance * quantity.spread + 3 * mcse:
            failures.append(f"{quantity.label}: ipsbayes {np.mean(draws):.4g} vs published {quantity.published:.4g}")
    assert not failures, failures
