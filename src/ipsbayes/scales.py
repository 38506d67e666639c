"""Fidelity scales: items, score range and named bands (IPS-25 by default).

The scale is configurable because IPS services are reviewed with more than one
instrument (IPS-25 for adult services, IPS-Y for youth services, with its own
cut-offs); the model only needs the score range, the bands for reporting and a
reference contrast.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ipsbayes.config_problems import Number, WholeNumber


class FidelityScale(BaseModel):
    """A fidelity scale: ``items`` items scored ``item_min``-``item_max``, with lower band bounds.

    The default is IPS-25: 25 items scored 1-5 (total 25-125); 100 and above
    "good", 74-99 "fair", 73 and below "not IPS"; 115-125 is commonly cited as
    "exemplary".
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = "IPS-25"
    items: WholeNumber = Field(25, ge=1)
    item_min: WholeNumber = 1
    item_max: WholeNumber = 5
    bands: dict[str, Number] = Field(default_factory=lambda: {"exemplary": 115, "good": 100, "fair": 74})
    below_bands: str = "not IPS"

    @model_validator(mode="after")
    def _check(self) -> FidelityScale:
        if self.item_max <= self.item_min:
            raise ValueError("item_max must be greater than item_min")
        for band, bound in self.bands.items():
            if not self.minimum <= bound <= self.maximum:
                raise ValueError(f"band '{band}' starts at {bound}, outside {self.minimum}-{self.maximum}")
        return self

    @property
    def minimum(self) -> int:
        """Lowest possible total score."""
        return self.items * self.item_min

    @property
    def maximum(self) -> int:
        """Highest possible total score."""
        return self.items * self.item_max

    def band(self, score: float, language: str = "en") -> str:
        """Name of the band a total score falls in (built-in IPS-25 names in bokmål when ``language`` is "nb")."""
        name = next(
            (band for band, bound in sorted(self.bands.items(), key=lambda kv: -kv[1]) if score >= bound),
            self.below_bands,
        )
        return BANDS_NB.get(name, name) if language == "nb" else name


BUILTIN_SCALES: dict[str, FidelityScale] = {"ips25": FidelityScale()}
#: Norwegian names of the built-in IPS-25 bands (a config's own band names are shown as written)
BANDS_NB = {"exemplary": "eksemplarisk", "good": "god", "fair": "rimelig", "not IPS": "ikke IPS"}


class FidelitySpec(BaseModel):
    """How a model uses a service's fidelity score.

    Attributes
    ----------
    column : str
        Column holding the total score (services table or constant within service).
    scale : str or FidelityScale
        A built-in scale name (``ips25``) or a full scale definition.
    per : float
        Slopes are reported per this many scale points.
    centre : float or None
        Score the slope is centred at (default: the mean over services).
    contrast : tuple of float
        Two scores whose difference in outcome rate the report gives (default fair 74 vs good 100).
    source : {"column", "reviews"}
        ``column``: one score per service in ``column``. ``reviews``: scores of repeated
        reviews in the config's reviews table (``review_column``), one row per review.
    review_column : str
        Column of the reviews table holding each review's total score.
    measurement_error : bool
        With reviews: model each service's true fidelity as latent, measured with error by
        its reviews, so fidelity uncertainty propagates into the slope (``True``), or plug in
        the mean review score (``False``, the naive analysis).
    group : str or None
        The grouping factor (a column of the formula's group terms) the score belongs to;
        default: the model's service column, else the formula's first grouping factor.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    column: str
    scale: str | FidelityScale = "ips25"
    per: Number = Field(10.0, gt=0)
    centre: Number | None = None
    contrast: tuple[Number, Number] = (74.0, 100.0)
    source: Literal["column", "reviews"] = "column"
    review_column: str = "ips25_total"
    measurement_error: bool = True
    group: str | None = None

    @property
    def latent(self) -> bool:
        """True when the model treats fidelity as latent and measured with error by reviews."""
        return self.source == "reviews" and self.measurement_error

    @field_validator("contrast")
    @classmethod
    def _two_scores(cls, value: tuple[float, float]) -> tuple[float, float]:
        """The contrast compares two different scores (the same score twice is a difference of 0 by definition)."""
        if value[0] == value[1]:
            raise ValueError(
                f"the two scores must differ (both are {value[0]:g}); give a lower and a higher score, "
                "e.g. contrast = [74, 100] (IPS-25 fair vs good)"
            )
        return value

    @model_validator(mode="after")
    def _check(self) -> FidelitySpec:
        if isinstance(self.scale, str) and self.scale not in BUILTIN_SCALES:
            raise ValueError(f"unknown scale '{self.scale}'; built-in: {', '.join(BUILTIN_SCALES)} (or give a table)")
        low, high = self.resolved_scale.minimum, self.resolved_scale.maximum
        for value in self.contrast:
            if not low <= value <= high:
                raise ValueError(f"contrast score {value} is outside the scale's range {low}-{high}")
        return self

    @property
    def resolved_scale(self) -> FidelityScale:
        """The scale object (built-in looked up by name)."""
        return BUILTIN_SCALES[self.scale] if isinstance(self.scale, str) else self.scale
