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
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                             initializer=_forget_inherited_connections) as pool:
        yield from pool.map(fn, items)


def _forget_inherited_connections() -> None:
    """In the child: drop any connection object inherited open from the parent, without closing
    it (closing would end the parent's session on the shared socket), so the child opens its own.
    close_all() above only reaches the connections of the parent's current context; one opened
    in another (a test's live server, an async view run through async_to_sync) would otherwise be
    shared, and two processes reading one socket wait for ever."""
    for conn in connections.all(initialized_only=True):
        conn.connection = None
