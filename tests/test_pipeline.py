"""The common pipeline: one fit function for every caller, and input data that are never changed."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

import ipsbayes.sensitivity
import ipsbayes.testing
import ipsbayes.validation
from ipsbayes.data import read_bundle
from ipsbayes.pipeline import prepare
from ipsbayes.runner import validate_config

from .conftest import REPO

CONFIGS = sorted(path.stem for path in (REPO / "models").glob("*.toml"))


@pytest.mark.parametrize("name", CONFIGS)
def test_prepare_never_changes_the_tables_it_is_given(name: str) -> None:
    config, family, spec, _priors = validate_config(REPO / "models" / f"{name}.toml")
    config = config.model_copy(update={"data": config.data.model_copy(update={"missing": "drop"})})
    bundle = read_bundle(config)
    frame = bundle.participants.frame
    frame.loc[frame.index[:3], frame.columns[-1]] = np.nan  # rows the "drop" policy removes
    before = {t.label: t.frame.copy() for t in bundle.tables()}
    data = prepare(family, bundle, spec, config)
    assert data.n_rows > 0
    for table in bundle.tables():
        pd.testing.assert_frame_equal(table.frame, before[table.label])


def test_every_fit_goes_through_the_pipeline() -> None:
    """Refits, validation fits and test fits call pipeline.fit, not the sampler directly (so all get the gate)."""
    for module in (ipsbayes.sensitivity, ipsbayes.validation, ipsbayes.testing):
        source = inspect.getsource(module)
        assert "sample(" not in source.replace("sample_prior_predictive(", ""), module.__name__
        assert "fit(" in source, module.__name__
