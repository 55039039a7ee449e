"""API rate limits: counted atomically, so parallel requests cannot slip past the limit (DRF's
SimpleRateThrottle let 1,500 of 1,500 through a 600/min limit); Retry-After tells when to come
back; a cache outage lets requests through instead of answering 500."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from collections_crm.accounts import ratelimit
from collections_crm.api.throttles import _FixedWindowThrottle
from tests.brokers import TEST_REDIS_URL, requires_redis

pytestmark = pytest.mark.django_db

# 30 s into a minute: the whole test falls in one window, however long it takes.
PINNED = 1_800_000_030.0


def _rates(token: str = "20/min", session: str = "20/min") -> dict:
    from django.conf import settings

    return {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_token": token, "api_session": session}}


@pytest.fixture
def pinned_clock(monkeypatch):
    now = {"t": PINNED}
    monkeypatch.setattr(_FixedWindowThrottle, "timer", staticmethod(lambda: now["t"]))
    return now


@pytest.fixture
def redis_cache(settings):
    # A key prefix of its own: nothing else in this Redis database is touched, or flushed.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": TEST_REDIS_URL, "KEY_PREFIX": f"throttle-test-{uuid.uuid4().hex}"}}


@requires_redis
@pytest.mark.django_db(transaction=True)
def test_parallel_requests_never_pass_the_limit(live_server, settings, redis_cache, pinned_clock, make_token, creditor_a):
    """60 requests at once through a real HTTP server (one thread per request) against Redis, with
    20 allowed a minute: exactly 20 answered, 40 refused."""
    settings.REST_FRAMEWORK = _rates(token="20/min")
    _token, raw = make_token(creditor_a)
    url = f"{live_server.url}/api/v1/creditors/"
    parallel = 60
    start = threading.Barrier(parallel)

    def call(_n):
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {raw}"
            start.wait(timeout=30)  # all threads fire together
            response = session.get(url, timeout=60)
            return response.status_code, response.headers.get("Retry-After")

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        results = list(pool.map(call, range(parallel)))

    assert Counter(status for status, _ in results) == {200: 20, 429: 40}
    assert {retry for status, retry in results if status == 429} == {"30"}  # the window ends in 30 s


def test_retry_after_and_the_next_window(api, settings, pinned_clock, make_token, creditor_a):
    settings.REST_FRAMEWORK = _rates(token="3/min")
    _token, raw = make_token(creditor_a)
    client = api(token=raw)
    assert [client.get("/api/v1/creditors/").status_code for _ in range(4)] == [200, 200, 200, 429]
    pinned_clock["t"] += 20
    refused = client.get("/api/v1/creditors/")
    assert refused.status_code == 429 and refused["Retry-After"] == "10"
    pinned_clock["t"] += 10  # the next minute
    assert client.get("/api/v1/creditors/").status_code == 200


def test_tokens_and_users_are_counted_apart(api, settings, pinned_clock, make_token, creditor_a, creditor_b, agent):
    settings.REST_FRAMEWORK = _rates(token="2/min", session="2/min")
    first, second = api(token=make_token(creditor_a)[1]), api(token=make_token(creditor_b)[1])
    browser = api(agent)
    for client in (first, second, browser):
        assert [client.get("/api/v1/creditors/").status_code for _ in range(3)] == [200, 200, 429]


def test_a_cache_outage_lets_requests_through(api, settings, pinned_clock, make_token, creditor_a, caplog, monkeypatch):
    """Redis down (nothing listens on port 1): the API still answers, and says why in the log."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}
    settings.REST_FRAMEWORK = _rates(token="2/min")
    monkeypatch.setattr(ratelimit, "_warned_at", -ratelimit._WARN_EVERY_SECONDS)  # no warning yet this minute
    client = api(token=make_token(creditor_a)[1])
    with caplog.at_level(logging.WARNING, logger="collections_crm.accounts.ratelimit"):
        assert [client.get("/api/v1/creditors/").status_code for _ in range(5)] == [200] * 5
    (warning,) = caplog.records  # once, not on every request
    assert "api_token" in warning.getMessage() and "ConnectionError" in warning.getMessage()


def test_the_counter_is_atomic_under_threads_in_one_process(pinned_clock):
    """The embedded default (LocMemCache): the same guarantee within a process."""
    results = []
    start = threading.Barrier(50)

    def call():
        start.wait(timeout=30)
        results.append(ratelimit.hit(key="test:atomic", limit=20, window=60, now=PINNED).allowed)

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(results) == {True: 20, False: 30}
