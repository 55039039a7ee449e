"""Fixed-window counters in the Django cache, shared by the password-reset limits and the API
throttles.

One key per (subject, window number) is created with ``add`` and counted with ``incr``; both are
single atomic operations on Redis (SET NX, INCR) and under LocMemCache's lock, so parallel
requests can never read the same count and all pass, as a read-modify-write of a list in the cache
would let them. A fixed window lets at most twice the limit through across a window boundary;
that is the price of one round trip per request.

When the cache fails (Redis down) the counter lets the request through: a limit that cannot be
counted must not take the application down with it. A warning is logged at most once a minute per
process.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.core.cache import caches

log = logging.getLogger(__name__)

_WARN_EVERY_SECONDS = 60.0
_warned_at = -_WARN_EVERY_SECONDS
_warn_lock = threading.Lock()

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Hit:
    allowed: bool
    count: int  # hits in this window including this one; 0 when the cache failed
    retry_after: float  # seconds until the window ends


def parse_rate(rate: str) -> tuple[int, int]:
    """``"600/min"`` → ``(600, 60)``: the number and the window in seconds, as DRF reads a rate
    (the period is read by its first letter: s, m, h or d)."""
    number, _, period = rate.partition("/")
    try:
        return int(number), _PERIODS[period.strip()[:1].lower()]
    except (ValueError, KeyError):
        raise ValueError(f"Not a rate: {rate!r} (use e.g. 600/min, 5/hour).") from None


def _warn(kind: str, exc: Exception) -> None:
    global _warned_at
    now = time.monotonic()
    with _warn_lock:
        if now - _warned_at < _WARN_EVERY_SECONDS:
            return
        _warned_at = now
    log.warning("Rate limit %s not counted, request allowed: the cache failed (%s).", kind, type(exc).__name__)


def hit(*, key: str, limit: int, window: int, now: float, cache_alias: str = "default") -> Hit:
    """Count one hit for ``key`` (no personal data in it: hash e-mails first) in the window of
    ``window`` seconds that holds ``now`` (epoch seconds), and say whether it is within ``limit``."""
    number = int(now // window)
    retry_after = (number + 1) * window - now
    cache_key = f"rl:{key}:{window}:{number}"
    try:
        cache = caches[cache_alias]
        for _attempt in range(2):
            # Two windows of life: the key outlives its window, so no increment can ever meet an
            # expired key and recreate it without a timeout.
            cache.add(cache_key, 0, timeout=2 * window)
            try:
                count = cache.incr(cache_key)
                break
            except ValueError:  # evicted between add and incr (cache full): add it again
                continue
        else:
            raise LookupError("the counter key vanished twice")
    except Exception as exc:  # noqa: BLE001 - any cache failure fails open, by design
        _warn(key.split(":", 1)[0], exc)
        return Hit(allowed=True, count=0, retry_after=retry_after)
    return Hit(allowed=count <= limit, count=count, retry_after=retry_after)
