"""Intervals for the faithfulness scores: every number the lab reports comes with a 95% confidence interval, and a
verdict is only given when the intervals say so.

`interval` is Student's t interval of a mean (scipy.stats.t), the textbook choice for a mean over ≥ 100 images.
`prediction_interval` is where one more draw falls 95% of the time (mean ± t·s·√(1 + 1/n)): one saliency map's
order against random orders is one draw against many, so it beats them only outside that range. Values that are not defined (NaN: a rank correlation with a constant map) are not
averaged in; they are counted, so a verdict can say how many there were.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from scipy import stats

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    mean: float  # NaN when no value is defined
    lo: float  # the 95% confidence interval of the mean (NaN with fewer than 2 defined values)
    hi: float
    n: int  # defined values averaged
    undefined: int = 0  # values left out because they are not defined (NaN)

    def below(self, other: Interval) -> bool:
        """True only when this interval lies entirely below the other (the intervals separate)."""
        return self.defined and other.defined and self.hi < other.lo

    def above(self, other: Interval) -> bool:
        return self.defined and other.defined and self.lo > other.hi

    @property
    def defined(self) -> bool:
        return not (math.isnan(self.lo) or math.isnan(self.hi))

    def text(self, digits: int = 3) -> str:
        """'0.214 [0.201, 0.227]', or the mean alone when it has no interval."""
        if math.isnan(self.mean):
            return "undefined"
        if not self.defined:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"


def interval(values: Iterable[float], level: float = LEVEL, *, prediction: bool = False) -> Interval:
    """Mean and Student's t confidence interval of the defined (non-NaN) values (prediction=True: the prediction
    interval of one more value instead)."""
    vals = [float(v) for v in values]
    ok = [v for v in vals if not math.isnan(v)]
    n, undefined = len(ok), len(vals) - len(ok)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, undefined)
    mean = sum(ok) / n
    if n < 2:
        return Interval(mean, math.nan, math.nan, n, undefined)
    sd = math.sqrt(sum((v - mean) ** 2 for v in ok) / (n - 1))
    spread = math.sqrt(1 + 1 / n) if prediction else 1 / math.sqrt(n)
    half = float(stats.t.ppf((1 + level) / 2, n - 1)) * sd * spread
    return Interval(mean, mean - half, mean + half, n, undefined)


def prediction_interval(values: Iterable[float], level: float = LEVEL) -> Interval:
    """Mean and the range where one more value falls with probability `level` (Student's t)."""
    return interval(values, level, prediction=True)
