"""The Redis that Celery integration tests use: one URL for the whole run (CI sets it), and a
skip that is only allowed when the run does not require real services."""

from __future__ import annotations

import os

import pytest

TEST_REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_up(url: str = TEST_REDIS_URL) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url).ping())
    except redis.RedisError:
        return False


# With CRM_REQUIRE_SERVICES set (CI), a missing Redis fails these tests instead of skipping them.
requires_redis = pytest.mark.skipif(
    not os.environ.get("CRM_REQUIRE_SERVICES") and not redis_up(), reason=f"no Redis server at {TEST_REDIS_URL}"
)
