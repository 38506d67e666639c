"""Property-based: whatever config or data ``ipsbayes check`` gets, it exits 0, 2 or 3 and prints no traceback.

Hypothesis generates configs (a valid config with random keys set to random values:
unicode text, huge and non-finite numbers, lists, nested tables; random TOML; random
bytes) and malformed data (repeated rows, header-only and empty files, wrong types,
missing values, dropped or renamed columns, semicolon separators with decimal commas).
The command line runs in-process. Example counts are fixed so the test takes about a
minute: :data:`CONFIG_EXAMPLES` + :data:`DATA_EXAMPLES` + :data:`BYTES_EXAMPLES`.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import tomli_w
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ipsbayes.cli import main
from ipsbayes.testing import edit_config, load_raw_config

from .conftest import REPO, SMALL_IPSUNG

pytestmark = pytest.mark.filterwarnings("ignore:The recursion limit will not be reset")
#: IPSBAYES_FUZZ=N multiplies the example counts and draws fresh examples (exploring outside CI)
FUZZ = int(os.environ.get("IPSBAYES_FUZZ", "0") or 0)
CONFIG_EXAMPLES = 60 * max(FUZZ, 1)
DATA_EXAMPLES = 40 * max(FUZZ, 1)
BYTES_EXAMPLES = 20 * max(FUZZ, 1)
ALLOWED_EXITS = {0, 2, 3}
KNOWN_KEYS = [
    "name", "description", "seed", "data", "data.participants", "data.services", "data.missing", "data.separator",
    "data.decimal", "data.participant_id", "model", "model.kind", "model.formula", "model.service",
    "model.service_predictors", "model.fidelity", "model.fidelity.scale", "model.fidelity.per",
    "model.fidelity.contrast", "model.fidelity.column", "model.outcome_label", "model.collapse", "priors", "priors.set",
    "priors.overrides.sd_service", "priors.path", "sampler", "sampler.draws", "sampler.tune", "sampler.chains",
    "sampler.cores", "sampler.profile", "sampler.backend", "sampler.target_accept", "report.title",
    "report.interval_prob", "report.interval_kind", "report.thresholds.fidelity_contrast", "report.figure_formats",
    "diagnostics.rhat_warn", "diagnostics.max_divergences", "sensitivity.prior_sets", "sensitivity.variants.v",
    "sensitivity.estimands", "validation.datasets", "validation.truth", "validation.options",
]  # fmt: skip

names = st.text(min_size=1, max_size=10)
scalars = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.booleans(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(names, inner, max_size=4)),
    max_leaves=8,
)
keys = st.one_of(
    st.sampled_from(KNOWN_KEYS),
    st.builds(lambda table, key: f"{table}.{key}" if table else key, st.sampled_from(["", "model", "data"]), names),
)


@pytest.fixture(scope="module")
def workspace() -> Any:
    """A folder with the small simulated data set and a valid, quick config reading it."""
    from ipsbayes.simulate import simulate

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        simulate("ipsung", seed=7, out=root / "data", options=SMALL_IPSUNG)
        raw = edit_config(
            load_raw_config(REPO / "models" / "ipsung_employment.toml"),
            **{
                "model.formula": "work_or_education_12m ~ age + ips25 + (1 | service)",
                "data.participants": str(root / "data" / "participants.csv"),
                "data.services": str(root / "data" / "services.csv"),
            },
        )
        yield root, raw


def set_key(raw: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """Set ``dotted`` in a copy of ``raw``, replacing non-tables on the way."""
    out = edit_config(raw)
    node = out
    *parents, last = dotted.split(".")
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[last] = value
    return out


def check(path: Path) -> tuple[int, str]:
    """Run ``ipsbayes check`` in-process; return the exit code and everything it printed."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["check", str(path)])
    return code, stdout.getvalue() + stderr.getvalue()


def assert_clean_exit(code: int, text: str) -> None:
    assert code in ALLOWED_EXITS, f"exit {code}: {text[-2000:]}"
    assert "Traceback" not in text, text[-3000:]
    assert len(text) < 20_000, f"{len(text)} characters of output"


@settings(
    max_examples=CONFIG_EXAMPLES,
    deadline=None,
    derandomize=not FUZZ,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(changes=st.lists(st.tuples(keys, values), min_size=1, max_size=3))
def test_random_config_values_never_give_a_traceback(workspace, changes: list[tuple[str, Any]]) -> None:
    root, raw = workspace
    for key, value in changes:
        raw = set_key(raw, key, value)
    path = root / "config.toml"
    try:
        path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    except (TypeError, ValueError):  # not representable in TOML (e.g. a table in a list of scalars): skip
        return
    assert_clean_exit(*check(path))


@settings(max_examples=BYTES_EXAMPLES, deadline=None, derandomize=not FUZZ, suppress_health_check=list(HealthCheck))
@given(content=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_random_config_bytes_never_give_a_traceback(workspace, content: bytes) -> None:
    root, _ = workspace
    path = root / "bytes.toml"
    path.write_bytes(content)
    assert_clean_exit(*check(path))


class Csv(bytes):
    """File content that Hypothesis reports by what was done to it, not by its bytes."""

    description = ""

    def __repr__(self) -> str:
        return f"<participants file, {len(self):,} bytes: {self.description}>"


def csv_file(content: bytes, description: str) -> Csv:
    out = Csv(content)
    out.description = description
    return out


@st.composite
def broken_frames(draw: st.DrawFn, base: pd.DataFrame) -> Csv:
    """A participants file (bytes) with a few things wrong with it, and what was done."""
    frame = base.copy()
    done = draw(
        st.lists(
            st.sampled_from(
                ["duplicate", "header_only", "empty", "text_in_numbers", "missing", "drop", "rename", "semicolon",
                 "one_service", "bool_outcome", "huge", "unicode"]
            ),
            min_size=1,
            max_size=3,
        )
    )  # fmt: skip
    column = draw(st.sampled_from(list(frame.columns)))
    rows = draw(st.lists(st.integers(0, len(frame) - 1), min_size=1, max_size=5))
    separator, decimal = ",", "."
    for step in done:
        if step == "duplicate":
            frame = pd.concat([frame, frame.iloc[rows]])
        elif step == "text_in_numbers" and column in frame:
            frame[column] = frame[column].astype(object)
            frame.iloc[rows, frame.columns.get_loc(column)] = draw(st.text(max_size=10))
        elif step == "missing" and column in frame:
            frame[column] = frame[column].astype(object)
            frame.iloc[rows, frame.columns.get_loc(column)] = np.nan
        elif step == "drop" and column in frame:
            frame = frame.drop(columns=[column])
        elif step == "rename" and column in frame:
            frame = frame.rename(columns={column: draw(st.text(min_size=1, max_size=12))})
        elif step == "semicolon":
            separator, decimal = ";", ","
        elif step == "one_service" and "service" in frame:
            frame["service"] = frame["service"].iloc[0]
        elif step == "bool_outcome" and "work_or_education_12m" in frame:
            frame["work_or_education_12m"] = frame["work_or_education_12m"].astype(bool)
        elif step == "huge" and "age" in frame:
            frame["age"] = frame["age"].astype(object)
            frame.iloc[rows, frame.columns.get_loc("age")] = draw(st.sampled_from([1e308, -1e308, 2**70, np.inf]))
        elif step == "unicode" and "service" in frame:
            frame["service"] = frame["service"].astype(object)
            frame.iloc[rows, frame.columns.get_loc("service")] = draw(st.text(min_size=1, max_size=8))
    if "empty" in done:
        return csv_file(b"", "empty")
    if "header_only" in done:
        frame = frame.iloc[:0]
    text = frame.to_csv(index=False, sep=separator, decimal=decimal)
    return csv_file(text.encode("utf-8", errors="surrogatepass"), f"{' + '.join(done)} (column {column!r})")


@settings(
    max_examples=DATA_EXAMPLES,
    deadline=None,
    derandomize=not FUZZ,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_malformed_data_never_give_a_traceback(workspace, data: st.DataObject) -> None:
    root, raw = workspace
    base = pd.read_csv(root / "data" / "participants.csv")
    content = data.draw(broken_frames(base))
    folder = root / "broken"
    folder.mkdir(exist_ok=True)
    (folder / "participants.csv").write_bytes(content)
    path = root / "broken.toml"
    path.write_text(tomli_w.dumps(set_key(raw, "data.participants", str(folder / "participants.csv"))))
    assert_clean_exit(*check(path))
