"""A Redis cache that fails soft: when Redis is away the app keeps answering.

Everything the app keeps in the cache can be recomputed (headline figures, the dashboard's
currency list, rate-limit counters), so a cache outage must cost speed, never a 500. Reads then
miss, writes are dropped, and ``incr``/``decr`` raise ``ValueError`` as they do for a missing key
(the rate limiter treats that as "let it through"). After a failure the backend does not touch
Redis again for ``RETRY_SECONDS``: a down server is not asked on every call (each attempt costs a
connect timeout), and it is used again by itself once it is back.
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0


class FailSoftRedisCache(RedisCache):
    _down_until = 0.0  # per instance (one per thread): when Redis is tried again after a failure

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, error: Exception) -> None:
        if self._available():
            log.warning("cache unavailable (%s); serving without it for %.0f s", type(error).__name__, RETRY_SECONDS)
        self._down_until = time.monotonic() + RETRY_SECONDS

    def _soft(self, name: str, default, *args, **kwargs):
        if not self._available():
            return default
        try:
            return getattr(super(), name)(*args, **kwargs)
        except (RedisError, OSError) as error:
            self._failed(error)
            return default

    def get(self, key, default=None, version=None):
        return self._soft("get", default, key, default, version)

    def get_many(self, keys, version=None):
        return self._soft("get_many", {}, keys, version)

    def has_key(self, key, version=None):
        return self._soft("has_key", False, key, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._soft("set", None, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._soft("set_many", list(data), data, timeout, version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._soft("add", False, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._soft("touch", False, key, timeout, version)

    def delete(self, key, version=None):
        return self._soft("delete", False, key, version)

    def delete_many(self, keys, version=None):
        return self._soft("delete_many", None, keys, version)

    def clear(self):
        return self._soft("clear", False)

    def incr(self, key, delta=1, version=None):
        if not self._available():
            raise ValueError("cache unavailable")
        try:
            return super().incr(key, delta, version)
        except (RedisError, OSError) as error:
            self._failed(error)
            raise ValueError("cache unavailable") from error

    def decr(self, key, delta=1, version=None):
        return self.incr(key, -delta, version)
