"""Statistics of listening-test answers: intervals, sensitivity, agreement. Pure functions.

- ``mean_ci``: a mean with its Student-t interval (ratings).
- ``wilson``: a share with its Wilson score interval (share correct).
- ``d_prime``: sensitivity of a yes/no discrimination (hits and false alarms, log-linear corrected).
- ``krippendorff_alpha``: agreement between participants, any number of answers per clip.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence

from scipy import stats


def mean_ci(values: Sequence[float], level: float = 0.95) -> dict:
    """Mean of ``values`` with a Student-t confidence interval (``low``/``high`` None when n < 2)."""
    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return {"n": n, "mean": mean, "low": None, "high": None}
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * statistics.stdev(values) / math.sqrt(n)
    return {"n": n, "mean": mean, "low": mean - half, "high": mean + half}


def wilson(k: int, n: int, level: float = 0.95) -> dict:
    """Share ``k / n`` with its Wilson score interval (Wilson 1927); all None when ``n == 0``."""
    if n == 0:
        return {"k": 0, "n": 0, "share": None, "low": None, "high": None}
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return {"k": k, "n": n, "share": p, "low": max(0.0, centre - half), "high": min(1.0, centre + half)}


def d_prime(hits: int, signal: int, false_alarms: int, noise: int) -> float | None:
    """Sensitivity d' = z(H) - z(F) of telling signal (real clips) from noise (generated clips).

    ``hits`` of ``signal`` real clips were called real, ``false_alarms`` of ``noise`` generated
    ones too. Rates use the log-linear correction (k + 0.5) / (n + 1) (Hautus 1995), so perfect
    answers give a finite d'. 0 means chance; None when either kind has no answers.
    """
    if signal == 0 or noise == 0:
        return None
    h = (hits + 0.5) / (signal + 1)
    f = (false_alarms + 0.5) / (noise + 1)
    return float(stats.norm.ppf(h) - stats.norm.ppf(f))


def nominal(a: Hashable, b: Hashable) -> float:
    """Krippendorff's nominal distance: 0 for equal values, 1 otherwise."""
    return 0.0 if a == b else 1.0


def interval(a: float, b: float) -> float:
    """Krippendorff's interval distance: the squared difference."""
    return float(a - b) ** 2


def krippendorff_alpha(
    units: Mapping[Hashable, Sequence[Hashable]],
    distance: Callable[[Hashable, Hashable], float] = nominal,
) -> float | None:
    """Krippendorff's alpha = 1 - D_o / D_e over ``units`` (clip → the values participants gave).

    Units with fewer than two values carry no pairs and are left out. 1 is perfect agreement,
    0 agreement at chance, below 0 systematic disagreement; None when there are no pairs or the
    values never differ (D_e = 0).
    """
    coincidence: Counter = Counter()
    for values in units.values():
        m = len(values)
        if m < 2:
            continue
        for i, a in enumerate(values):
            for j, b in enumerate(values):
                if i != j:
                    coincidence[a, b] += 1.0 / (m - 1)
    n = sum(coincidence.values())
    if n <= 1:
        return None
    totals: Counter = Counter()
    for (a, _), w in coincidence.items():
        totals[a] += w
    observed = sum(w * distance(a, b) for (a, b), w in coincidence.items()) / n
    expected = sum(
        totals[a] * totals[b] * distance(a, b) for a in totals for b in totals
    ) / (n * (n - 1))
    if expected == 0:
        return None
    return 1.0 - observed / expected
