"""The draws a sampler returned: complete or refused, with sample stats named as ArviZ reads them."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ipsbayes.errors import SamplingError


def check_draws(datatree: xr.DataTree, settings: dict[str, Any]) -> None:
    """Raise SamplingError unless every chain returned every draw that was asked for.

    A sampler that stopped early (interrupted, crashed in a worker) returns fewer draws,
    fewer chains, or chains padded with missing values; such a fit is never reported.
    """
    if "posterior" not in datatree.children:
        raise SamplingError("The sampler returned no posterior draws")
    posterior = datatree["posterior"].to_dataset()
    chains, draws = posterior.sizes.get("chain", 0), posterior.sizes.get("draw", 0)
    asked = (settings["chains"], settings["draws"])
    if (chains, draws) != asked:
        raise SamplingError(
            f"The sampler returned {draws:,} draws in {chains} chain(s), but {asked[1]:,} draws in each of {asked[0]} "
            "chains were asked for; a partial fit is never reported. Run again (if you did not press Ctrl-C, "
            "this is a sampler failure: run with --debug)."
        )
    for name, values in posterior.data_vars.items():
        if not np.issubdtype(values.dtype, np.floating) or "chain" not in values.dims:
            continue
        missing = values.isnull().any([d for d in values.dims if d != "chain"]).values
        if missing.any():
            bad = [str(c) for c in np.flatnonzero(missing)]
            raise SamplingError(
                f"The sampler returned missing draws of '{name}' in chain(s) {', '.join(bad)}; "
                "a partial fit is never reported. Run again."
            )


def normalise_sample_stats(datatree: xr.DataTree) -> None:
    """Give sample stats the names ArviZ's ``diagnose`` reads, whatever the backend.

    nutpie reports ``maxdepth_reached``; ArviZ and PyMC use ``reached_max_treedepth``.
    Free-text divergence messages (object dtype) are dropped so the tree can be
    written to netCDF.
    """
    stats = datatree["sample_stats"].to_dataset()
    if "maxdepth_reached" in stats and "reached_max_treedepth" not in stats:
        stats["reached_max_treedepth"] = stats["maxdepth_reached"].astype(bool)
    drop = [name for name, var in stats.data_vars.items() if var.dtype == object]
    datatree["sample_stats"] = xr.DataTree(stats.drop_vars(drop), name="sample_stats")


__all__ = ["check_draws", "normalise_sample_stats"]
