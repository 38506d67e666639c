"""Norwegian versions of the notes data preparation and the runner attach to a fit.

Notes are written in English when the data are prepared (they travel in the run
folder, before anyone knows the report's language). :func:`translate_note` gives
the Norwegian text of every note ipsbayes writes; a note it does not know is
returned unchanged, so a new English note never breaks a Norwegian report.
"""

from __future__ import annotations

import re

_NOTES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"^(?P<vars>.+?) (?:has|have) a varying slope but no population-level term: .*\(y ~ x \+ \(x \| g\)\)\.$"
        ),
        "{vars}: varierende stigning uten populasjonsledd. Gruppestigningene tar opp den gjennomsnittlige "
        "stigningen, og rapporten gir ingen gjennomsnittlig marginal effekt for {vars}; legg {vars} til formelens "
        "populasjonsledd for å anslå effekten (y ~ x + (x | g)).",
    ),
    (
        re.compile(r'^model\.collapse = "always" was not applied: .*$'),
        'model.collapse = "always" ble ikke brukt: rader slås sammen bare for binære utfall uten en kolonne med '
        "antall forsøk og uten varierende stigninger; hver rad er et ledd i likelihooden (posterioren er den samme).",
    ),
    (
        re.compile(r"^Rows dropped for missing values: (?P<rows>.+)\.$"),
        "Rader fjernet på grunn av manglende verdier: {rows}.",
    ),
    (
        re.compile(
            r"^(?P<n>\d+) participants were collapsed into (?P<k>\d+) binomial rows with identical predictors and "
            r"service \(same posterior, fewer likelihood terms\)\.$"
        ),
        "{n} deltakere ble slått sammen til {k} binomiske rader med like prediktorer og tjeneste (samme "
        "posterior, færre ledd i likelihooden).",
    ),
    (
        re.compile(
            r"^(?P<n>[\d,]+) (?P<units>.+?) were collapsed into (?P<k>[\d,]+) binomial rows with identical "
            r"predictors and groups \(same posterior, fewer likelihood terms\)\.$"
        ),
        "{n} {units} ble slått sammen til {k} binomiske rader med like prediktorer og grupper (samme posterior, "
        "færre ledd i likelihooden).",
    ),
    (
        re.compile(
            r"^(?P<n>[\d,]+) participants' follow-up ended before month (?P<m>\d+) without a target state "
            r"\(right-censored: they count for the months they were followed\)\.$"
        ),
        "Oppfølgingen av {n} deltakere sluttet før måned {m} uten en måltilstand (høyresensurert: de teller for "
        "månedene de ble fulgt).",
    ),
    (
        re.compile(r"^(?P<n>[\d,]+) rows stand for (?P<w>[\d,]+) participants \(column '(?P<column>.+)'\)\.$"),
        "{n} rader står for {w} deltakere (kolonnen '{column}').",
    ),
    (
        re.compile(
            r"^(?P<pm>[\d,]+) person-months at risk were collapsed into (?P<cells>[\d,]+) pattern-months with "
            r"someone at risk \((?P<patterns>[\d,]+) covariate patterns x (?P<months>\d+) months; same "
            r"likelihood\)\.$"
        ),
        "{pm} personmåneder under risiko ble slått sammen til {cells} mønster-måneder med noen under risiko "
        "({patterns} kovariatmønstre x {months} måneder; samme likelihood).",
    ),
    (
        re.compile(
            r"^(?P<rows>[\d,]+) likelihood rows: pointwise log-likelihood, LOO, power-scaling and posterior predictive "
            r"draws were skipped \(more than (?P<max>[\d,]+) rows; .*\)\.$"
        ),
        "{rows} rader i likelihooden: punktvis log-likelihood, LOO, power-scaling og posterior prediktive trekk ble "
        "hoppet over (mer enn {max} rader; med diskrete kovariater gjør collapse = 'auto' deltakerne om til langt "
        "færre binomiske rader).",
    ),
    (
        re.compile(
            r"^(?P<rows>[\d,]+) likelihood rows \(more than (?P<max>[\d,]+)\): the pointwise log-likelihood is not "
            r"stored \(loo = 'exact' under \[diagnostics\] keeps it\)\. With discrete covariates, .*\.$"
        ),
        "{rows} rader i likelihooden (mer enn {max}): punktvis log-likelihood lagres ikke (loo = 'exact' under "
        "[diagnostics] lagrer den). Med diskrete kovariater gjør collapse = 'auto' deltakerne om til langt færre "
        "binomiske rader.",
    ),
    (
        re.compile(
            r"^(?P<rows>[\d,]+) likelihood rows with loo = 'subsample': the pointwise log-likelihood is not "
            r"stored\.$"
        ),
        "{rows} rader i likelihooden med loo = 'subsample': punktvis log-likelihood lagres ikke.",
    ),
    (
        re.compile(r"^LOO is estimated from a simple random subsample of (?P<m>[\d,]+) rows, .*\.$"),
        "LOO er estimert fra et enkelt tilfeldig utvalg på {m} rader, med hver rads log-likelihood ved "
        "posteriorgjennomsnittene som tilnærming i en differanseestimator (Magnusson mfl. 2019); diagnostikken "
        "gir standardfeilen og, ved siden av den, standardfeilen fra utvalget. Power-scaling-sensitiviteten "
        "bruker hver trekning sin totale log-likelihood.",
    ),
    (
        re.compile(r"^LOO and power-scaling of the likelihood were skipped: this model has no form for summing it\.$"),
        "LOO og power-scaling av likelihooden ble hoppet over: denne modellen har ingen form for å summere den.",
    ),
    (
        re.compile(r"^Predictive checks use (?P<n>[\d,]+) evenly spaced posterior draws\.$"),
        "Prediktive kontroller bruker {n} jevnt fordelte trekninger fra posterioren.",
    ),
    (
        re.compile(r"^Posterior predictive draws were skipped\.$"),
        "Posterior prediktive trekninger ble hoppet over.",
    ),
    (
        re.compile(
            r"^Fidelity: (?P<n>\d+) reviews of (?P<k>\d+) services; true fidelity is latent and measured with error "
            r"by the reviews \((?P<u>\d+) services without a review take it from the population distribution\)\.$"
        ),
        "Modelltrofasthet: {n} vurderinger av {k} tjenester; sann trofasthet er latent og måles med feil av "
        "vurderingene ({u} tjenester uten vurdering får den fra populasjonsfordelingen).",
    ),
    (
        re.compile(
            r"^Fidelity: (?P<n>\d+) reviews of (?P<k>\d+) services; true fidelity is latent and measured with error "
            r"by the reviews\.$"
        ),
        "Modelltrofasthet: {n} vurderinger av {k} tjenester; sann trofasthet er latent og måles med feil av "
        "vurderingene.",
    ),
    (
        re.compile(
            r"^The prior set '(?P<other>.+)' gives this model the same priors as '(?P<main>.+)', so it was not "
            r"refitted \(its refit would repeat the main analysis draw for draw\)\.$"
        ),
        "Priorsettet '{other}' gir denne modellen de samme priorene som '{main}', så det ble ikke tilpasset på nytt "
        "(analysen ville gjentatt hovedanalysen trekk for trekk).",
    ),
    (
        re.compile(
            r"^The priors alone could not be drawn \((?P<error>\w+): a prior this vague gives infinite draws\), so "
            r"the report shows no estimands implied by the priors and no prior-data conflict check\.$"
        ),
        "Priorene alene kunne ikke trekkes ({error}: en så vag prior gir uendelige trekk), så rapporten viser ingen "
        "størrelser som priorene alene gir, og ingen sjekk av konflikt mellom prior og data.",
    ),
    (
        re.compile(
            r"^Power-scaling sensitivity could not be computed for this posterior \((?P<error>.*)\); how much the "
            r"estimates depend on the priors is shown only by the refits under other prior sets, where the run has "
            r"them\.$"
        ),
        "Power-scaling-følsomhet kunne ikke beregnes for denne posterioren ({error}); hvor mye anslagene avhenger av "
        "priorene, vises bare av analysene med andre priorsett, der kjøringen har dem.",
    ),
    (
        re.compile(r"^Fidelity: mean of (?P<n>\d+) review scores per service plugged in \(no measurement error\)\.$"),
        "Modelltrofasthet: gjennomsnittet av {n} vurderingsskårer per tjeneste brukt direkte (uten målefeil).",
    ),
)


#: default English unit words of the families and their Norwegian
_UNITS_NB = {"participants": "deltakere", "rows": "rader", "observations": "observasjoner"}


#: one table's part of the dropped-rows note (:func:`ipsbayes.data_checks.dropped_rows_note`)
_DROPPED = re.compile(
    r"(?P<count>[\d,]+) rows? of (?P<name>.+?) (?:was|were) dropped for missing values"
    r"(?: \((?P<listed>.+?); rows counted from 1 below the header\))?(?=\. |\.$)"
)


def _dropped_nb(note: str) -> str | None:
    """The dropped-rows note in Norwegian, table by table; None when ``note`` is not that note."""
    parts = list(_DROPPED.finditer(note))
    if not parts or ". ".join(m.group(0) for m in parts) + "." != note:
        return None
    out = []
    for match in parts:
        count, name, listed = match.group("count"), match.group("name"), match.group("listed")
        table = re.sub(r"^the (.+) table$", r"tabellen \1", name)
        rows = "rad" if count == "1" else "rader"
        detail = ""
        if listed:
            listed = re.sub(r"\bdata rows\b", "datarader", listed)
            listed = re.sub(r"\bdata row\b", "datarad", listed)
            listed = re.sub(r" and ([\d,]+) more\b", r" og \1 til", listed)
            detail = f" ({listed}; radene telles fra 1 under overskriften)"
        out.append(
            f"{count.replace(',', chr(0x2009))} {rows} i {table} ble fjernet på grunn av manglende verdier{detail}"
        )
    return ". ".join(out) + "."


def translate_note(note: str, language: str = "en") -> str:
    """The note in ``language`` ("en" returns it unchanged; unknown notes stay English)."""
    if language != "nb":
        return note
    if (dropped := _dropped_nb(note)) is not None:
        return dropped
    for pattern, template in _NOTES:
        match = pattern.match(note)
        if match:
            # thousands separators in numbers; a column or list of names keeps its commas
            groups = {
                k: v if k in ("column", "vars") else v.replace(",", "\u2009") for k, v in match.groupdict().items()
            }
            if "units" in groups:  # the family's English default words; a config's own words stay as written
                groups["units"] = _UNITS_NB.get(groups["units"], groups["units"])
            return template.format(**groups)
    return note


__all__ = ["translate_note"]
