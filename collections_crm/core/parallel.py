"""Set-based jobs split over forked processes (PostgreSQL only).

A batch job whose work is half Python and half database keeps one core busy per process; on a
server database two or more processes, each with its own connection, finish sooner. Each item
runs in its own transaction in the child, so the items must touch disjoint rows."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from django.db import connection, connections

T = TypeVar("T")
R = TypeVar("R")


def can_fork(workers: int) -> bool:
    """More than one process only on PostgreSQL and outside a transaction (a child cannot see
    the parent's uncommitted rows, and SQLite allows one writer)."""
    return workers > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block


def map_in_processes(fn: Callable[[T], R], items: Iterable[T], *, workers: int) -> Iterator[R]:
    """``fn(item)`` for every item in ``workers`` forked processes; results in item order.

    ``fn`` must be a module-level function. Caller checks ``can_fork`` first."""
    # A forked child must not share the parent's socket: close it here; each side reconnects.
    connections.close_all()
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        yield from pool.map(fn, items)
