"""The verdict line at the top of every report: whether the numbers can be used as they stand.

One function, :func:`verdict`, combines everything that can make an estimate
untrustworthy into one status with its reasons:

- the main fit's diagnostics gate (R-hat, ESS, divergences, tree depth, E-BFMI, Pareto k);
- the gate of every sensitivity refit (other prior sets, model variants);
- prior-data conflict and prior-dominated estimands found by power-scaling
  sensitivity (ArviZ ``psense_summary`` diagnosis).

Rules (the verdict is never better than its worst input):

============================================  =========
Input                                          Verdict
============================================  =========
main gate fails                                ``fail``
main gate warns                                ``warn``
a refit's gate fails or warns                  ``warn``
power-scaling flags prior-data conflict        ``warn``
power-scaling flags a prior-dominated estimand ``warn``
everything passes                              ``pass``
============================================  =========

A failing refit does not fail the main analysis (its own numbers were checked),
but its row in the sensitivity table cannot be relied on, so the robustness
claim is weakened and the verdict warns. Reasons and headline are plain text
in the report's language (the renderer escapes them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import xarray as xr

from ipsbayes.present.answers import analysis_name, refit_gates
from ipsbayes.present.context import vocabulary_of
from ipsbayes.present.phrases import readable
from ipsbayes.present.text import choose, label_of, relabelled

_RANK = {"pass": 0, "skipped": 0, "warn": 1, "fail": 2}
_STATUS = {0: "pass", 1: "warn", 2: "fail"}


def verdict(
    gate_status: str,
    gate_messages: Sequence[str | tuple[str, str]],
    datatree: xr.DataTree | None,
    language: str = "en",
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Status, headline and reasons for the top of the report.

    Parameters
    ----------
    gate_status : {"pass", "warn", "fail"}
        The main fit's diagnostics gate.
    gate_messages : list of str or of (status, str)
        Its messages (checks that did not pass). A pair carries the check's own status
        (:meth:`~ipsbayes.diagnostics.Diagnostics.findings_in`), so a check that only warned is
        said to have warned even when another check failed the gate; a plain message takes the
        gate's status.
    datatree : DataTree or None
        The run: ``sensitivity`` (with ``attrs["gates"]``) and ``power_scaling`` groups are read when present.
    language : {"en", "nb"}
        Language of headline and reasons.
    labels : mapping, optional
        Readable names of estimands and analyses (``[report.labels]``).

    Returns
    -------
    dict
        ``status`` ("pass", "warn" or "fail"), ``headline`` (one sentence) and ``reasons``
        (list of plain-text sentences, empty when everything passed).
    """
    labels = labels or {}

    def text(en: str, nb: str) -> str:
        return choose(language, en, nb)

    worst = _RANK.get(gate_status, 2)
    reasons: list[str] = []
    if gate_status in ("warn", "fail"):

        def head(status: str) -> str:
            word = text("failed", "feilet") if status == "fail" else text("warned", "ga advarsel")
            return text(f"The main fit's diagnostics gate {word}", f"Diagnosesjekken for hovedanalysen {word}")

        findings = [item if isinstance(item, tuple) else (gate_status, item) for item in gate_messages]
        reasons += [f"{head(status)}: {message}" for status, message in findings] or [head(gate_status) + "."]
    for analysis, gate in refit_gates(datatree).items():
        status = str(gate.get("status", "fail"))
        if analysis.startswith("main") or _RANK.get(status, 2) == 0:
            continue
        worst = max(worst, 1)
        name = analysis_name(analysis, labels, language)
        word = text("failed", "feilet") if status == "fail" else text("warned", "ga advarsel")
        messages = gate.get("messages_nb") if language == "nb" and gate.get("messages_nb") else gate.get("messages", [])
        detail = "; ".join(messages[:2])
        reasons.append(
            text(
                f"The refit under {name} {word} its diagnostics gate, so its row in the sensitivity table is not "
                "reliable" + (f" ({detail})" if detail else "") + ".",
                f"Tilleggsanalysen med {name} {word} i diagnosesjekken, så raden i følsomhetstabellen er ikke "
                "pålitelig" + (f" ({detail})" if detail else "") + ".",
            )
        )
    problems = prior_problems(datatree)
    conflict = [short_name(n, datatree, labels, language) for n, d in problems.items() if "conflict" in d]
    weak = [short_name(n, datatree, labels, language) for n, d in problems.items() if "conflict" not in d]
    if conflict:
        worst = max(worst, 1)
        names = join_names(conflict, language)
        reasons.append(
            text(
                f"Power-scaling finds potential prior-data conflict for {names}: prior and data pull in different "
                "directions, so the estimate depends on the prior (compare the refits under other prior sets).",
                f"Power-scaling tyder på mulig konflikt mellom prior og data for {names}: prior og data trekker i "
                "ulike retninger, så anslaget avhenger av prioren (sammenlign analysene med andre priorsett).",
            )
        )
    if weak:
        worst = max(worst, 1)
        names = join_names(weak, language)
        reasons.append(
            text(
                f"Power-scaling finds {names} sensitive to the prior with a weak likelihood: the data alone cannot "
                "pin {'them' if len(weak) > 1 else 'it'} down.".replace(
                    "{'them' if len(weak) > 1 else 'it'}", "them" if len(weak) > 1 else "it"
                ),
                f"Power-scaling viser at {names} påvirkes av prioren og at dataene er svake: dataene alene kan ikke "
                "bestemme dem.",
            )
        )
    status = _STATUS[worst]
    headline = {
        "pass": text(
            "Diagnostics, sensitivity refits and prior-data checks passed.",
            "Diagnosesjekk, følsomhetsanalyser og kontroll av prior mot data er bestått.",
        ),
        "warn": text(
            "Use with care: read the reasons below before relying on these estimates.",
            "Bruk med forsiktighet: les begrunnelsene nedenfor før du stoler på anslagene.",
        ),
        "fail": text(
            "Do not use these estimates: the sampler did not explore the posterior reliably.",
            "Ikke bruk disse anslagene: sampleren utforsket ikke posteriorfordelingen pålitelig.",
        ),
    }[status]
    return {"status": status, "headline": headline, "reasons": reasons}


def command_verdict(
    gate_status: str | None,
    gate_messages: Sequence[str | tuple[str, str]],
    extra: list[tuple[str, str]],
    language: str = "en",
) -> dict[str, Any]:
    """The verdict block of a report that is not a model run (``map-prior``, ``design``).

    Same rules and markup as :func:`verdict`: never better than its worst input.

    Parameters
    ----------
    gate_status : {"pass", "warn", "fail"} or None
        The command's own fit's diagnostics gate (the MAP fit), or None when it has none.
    gate_messages : list of str
        Its messages, in the report's language.
    extra : list of (status, reason)
        The command's own checks ("warn" or "fail" with a plain-text reason; "pass" is dropped).
    language : {"en", "nb"}

    Returns
    -------
    dict
        ``status``, ``headline`` and ``reasons``, as :func:`verdict`.
    """
    base = verdict(gate_status or "pass", gate_messages, None, language)
    worst = _RANK[base["status"]]
    reasons = list(base["reasons"])
    for status, reason in extra:
        if _RANK.get(status, 2):
            worst = max(worst, _RANK.get(status, 2))
            reasons.append(reason)
    status = _STATUS[worst]
    headline = {
        "pass": choose(language, "Diagnostics and checks passed.", "Diagnosesjekk og kontroller er bestått."),
        "warn": choose(
            language,
            "Use with care: read the reasons below before relying on these numbers.",
            "Bruk med forsiktighet: les begrunnelsene nedenfor før du stoler på tallene.",
        ),
        "fail": choose(
            language,
            "Do not use these numbers: read the reasons below.",
            "Ikke bruk disse tallene: les begrunnelsene nedenfor.",
        ),
    }[status]
    return {"status": status, "headline": headline, "reasons": reasons}


def prior_problems(datatree: xr.DataTree | None) -> dict[str, str]:
    """Estimand -> power-scaling diagnosis, for estimands flagged as prior-data conflict or prior-dominated."""
    if datatree is None or "power_scaling" not in datatree.children:
        return {}
    power = datatree["power_scaling"].to_dataset()
    if "diagnosis" not in power:
        return {}
    out = {}
    for estimand, diagnosis in zip(power["estimand"].values, power["diagnosis"].values, strict=True):
        text = str(diagnosis).lower()
        if "conflict" in text or "weak likelihood" in text or "strong prior" in text:
            out[str(estimand)] = text
    return out


def short_name(
    name: str, datatree: xr.DataTree | None, labels: Mapping[str, str] | None = None, language: str = "en"
) -> str:
    """A short readable estimand name: ``[report.labels]``, else its label in ``language`` up to a colon ("CACE")."""
    labels = labels or {}
    if name in labels:
        return str(labels[name])
    if datatree is not None and "estimands" in datatree.children and name in datatree["estimands"].data_vars:
        estimands = datatree["estimands"]
        # the label was written at fit time: the words [report.labels] renames (the outcome) as the report names them
        label = relabelled(label_of(estimands[name].attrs, language), vocabulary_of(estimands), labels, language)
        colon, paren = label.find(":"), label.find("(")
        head = label[:colon].strip() if colon >= 0 and (paren < 0 or colon < paren) else label.strip()
        if head:
            return head if head.split(" ")[0].isupper() else head[0].lower() + head[1:]
    estimand, bracket, element = name.partition("[")  # an element of a vector estimand (ipsbayes.compared)
    if bracket and element.endswith("]") and datatree is not None and "estimands" in datatree.children:
        if estimand in datatree["estimands"].data_vars:
            words = readable(element[:-1], {**vocabulary_of(datatree["estimands"]), **labels}, language)
            return f"{short_name(estimand, datatree, labels, language)}: {words}"
    return name.replace("_", " ")


def join_names(names: list[str], language: str = "en") -> str:
    """``a``, ``a and b``, ``a, b and c`` (``og`` in Norwegian)."""
    word = choose(language, "and", "og")
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {word} {names[-1]}"


__all__ = ["command_verdict", "join_names", "prior_problems", "short_name", "verdict"]
