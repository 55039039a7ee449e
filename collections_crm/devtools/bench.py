"""Benchmark registry. Benchmarks live in ``collections_crm/devtools/benchmarks/<area>.py``:

    @benchmark("queue page")
    def queue_page(ctx: BenchContext) -> list[Figure]:
        ...
        return [("queue page median", 12.3, "ms")]

``python manage.py bench --scale N`` builds the data set, then runs every registered function.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

Figure = tuple[str, float, str]


@dataclass
class BenchContext:
    scale: int
    now: datetime
    # What the data builder reported (rows per model, seconds); benchmarks may read it.
    data: dict = field(default_factory=dict)


REGISTRY: dict[str, Callable[[BenchContext], list[Figure]]] = {}


def benchmark(name: str):
    def decorator(fn: Callable[[BenchContext], list[Figure]]):
        REGISTRY[name] = fn
        return fn

    return decorator


def median_ms(fn: Callable[[], object], *, repeat: int = 15, warmup: int = 2) -> float:
    """Median wall time of ``fn`` in milliseconds, after warm-up calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(samples), 2)
