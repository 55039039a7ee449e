"""Pure functions behind the figures: no ORM, no clock. Table-tested without a database."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from cases.choices import AGING_BUCKETS, AGING_LABELS

BUCKET_CODES = [code for code, _low, _high in AGING_BUCKETS]
CLOSED = "closed"
BUCKET_LABELS = {**AGING_LABELS, CLOSED: _("Paid or closed")}

# Below this many interactions a rate is shown with its interval but not ranked: one promise
# out of three attempts says nothing about a technique.
MIN_SAMPLE = 30


@dataclass(frozen=True)
class Proportion:
    successes: int
    n: int
    rate: float | None
    low: float | None
    high: float | None

    @property
    def enough(self) -> bool:
        return self.n >= MIN_SAMPLE


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95 % by default). Unlike the normal
    approximation it stays inside [0, 1] and is honest for small n and rates near 0 or 1."""
    if n <= 0:
        raise ValueError("n must be positive")
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion(successes: int, n: int) -> Proportion:
    if not n:
        return Proportion(successes, 0, None, None, None)
    low, high = wilson_interval(successes, n)
    return Proportion(successes, n, successes / n, low, high)


def ratio(numerator, denominator) -> float | None:
    """numerator / denominator as a float, or None when there is nothing to divide by."""
    if not denominator:
        return None
    return float(Decimal(numerator) / Decimal(denominator))


def due_date_range_for_bucket(bucket: str, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The due dates (inclusive, None = unbounded) that put a case in ``bucket`` on ``today``:
    days past due = today - due_date."""
    for code, low, high in AGING_BUCKETS:
        if code == bucket:
            earliest = today - dt.timedelta(days=high) if high is not None else None
            latest = today - dt.timedelta(days=low) if low is not None else None
            return earliest, latest
    raise ValueError(f"unknown bucket {bucket!r}")


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value):
    """Spreadsheet formula injection: a text cell that starts like a formula is prefixed with an
    apostrophe so Excel and LibreOffice show it as text. Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
