"""Exceptions raised by ipsbayes.

Every error a user can cause derives from :class:`IpsBayesError`. Errors that
collect several problems (a config with three typos, a data file with missing
values in two columns) carry them all in ``problems`` so the user can fix
everything in one pass instead of one error per run.
"""

from __future__ import annotations

from collections.abc import Iterable


class IpsBayesError(Exception):
    """Base class for all ipsbayes errors.

    Parameters
    ----------
    headline : str
        One line saying what failed (for example the file that was being read).
    problems : iterable of str, optional
        Every individual problem found; each should name the key, column or rows
        and say what would be valid.
    """

    exit_code: int = 1

    def __init__(self, headline: str, problems: Iterable[str] = ()) -> None:
        self.headline = headline
        self.problems = list(problems)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if not self.problems:
            return self.headline
        lines = [f"{self.headline} ({len(self.problems)} problem{'s' * (len(self.problems) != 1)}):"]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)


class ConfigError(IpsBayesError):
    """The run config (or a prior set it names) is invalid."""

    exit_code = 2


class DataError(IpsBayesError):
    """The input data do not fit what the model declares."""

    exit_code = 2


class ModelError(IpsBayesError):
    """A model could not be built from a valid config and valid data."""

    exit_code = 1


class SamplingError(IpsBayesError):
    """The sampler failed (not: the sampler ran but diagnostics are poor)."""

    exit_code = 1


class OutputError(IpsBayesError):
    """The output location cannot be used, or a run folder cannot be read back.

    Raised when ipsbayes would have to replace files it did not write, when the place is
    one it never writes to (the current folder or one above it, a home folder, a repository
    root, a folder holding the inputs), when it cannot be written at all, and when a run
    folder given to ``ipsbayes report`` is incomplete or unreadable.
    """

    exit_code = 2


class DiagnosticsGateError(IpsBayesError):
    """The diagnostics gate failed and the caller asked for ``strict`` behaviour."""

    exit_code = 3


def did_you_mean(word: str, valid: Iterable[str]) -> str:
    """Return a short "did you mean ...?" hint, or an empty string.

    Parameters
    ----------
    word : str
        The unknown name the user typed.
    valid : iterable of str
        The names that would have been accepted.
    """
    import difflib

    close = difflib.get_close_matches(word, list(valid), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
