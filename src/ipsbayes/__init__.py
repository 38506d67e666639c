"""ipsbayes: Bayesian multilevel evaluation of Individual Placement and Support (IPS).

Public API::

    import ipsbayes
    run = ipsbayes.run("models/ipsung_employment.toml")   # fit, diagnose, report
    run = ipsbayes.load_run("runs/ipsung_employment")     # read a run folder back
    tables, truth = ipsbayes.simulate("ipsung", seed=1)    # synthetic data with known truth

Heavy dependencies (PyMC, ArviZ) are imported on first use, so importing the
package is cheap and has no side effects.
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING, Any

try:
    __version__ = metadata.version("ipsbayes")
except metadata.PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

if TYPE_CHECKING:
    from ipsbayes.rundir import Run, load_run
    from ipsbayes.runner import run
    from ipsbayes.simulate import simulate

__all__ = ["Run", "__version__", "load_run", "run", "simulate"]

_LAZY = {
    "run": "ipsbayes.runner",
    "load_run": "ipsbayes.rundir",
    "Run": "ipsbayes.rundir",
    "simulate": "ipsbayes.simulate",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ipsbayes' has no attribute {name!r}")
