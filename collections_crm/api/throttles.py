"""API rate limits: a fixed window per API token and per browser user, counted atomically in the
cache (collections_crm.accounts.ratelimit). DRF's SimpleRateThrottle keeps a list of timestamps
that it reads and writes back, so parallel requests all read the same list and all pass: 1,500 of
1,500 parallel requests got through a 600/min limit. If the cache is down, requests are let
through (and a warning logged) rather than answered with a 500."""

from __future__ import annotations

import time

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from collections_crm.accounts import ratelimit

from .models import ApiToken


class _FixedWindowThrottle(BaseThrottle):
    scope: str
    timer = time.time  # a class attribute, so a test can pin the clock for every thread

    def __init__(self):
        self._retry_after: float | None = None

    def subject(self, request) -> str | None:
        """Who is counted; ``None`` leaves the request to another throttle."""
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        subject = self.subject(request)
        # Read at request time, so settings overrides (tests, ops) take effect.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        if subject is None or rate is None:
            return True
        limit, window = ratelimit.parse_rate(rate)
        result = ratelimit.hit(key=f"{self.scope}:{subject}", limit=limit, window=window, now=self.timer())
        self._retry_after = result.retry_after
        return result.allowed

    def wait(self) -> float | None:
        """Seconds until the window ends (DRF sends it as Retry-After)."""
        return self._retry_after


class TokenRateThrottle(_FixedWindowThrottle):
    """Per API token."""

    scope = "api_token"

    def subject(self, request) -> str | None:
        return str(request.auth.pk) if isinstance(request.auth, ApiToken) else None


class SessionUserRateThrottle(_FixedWindowThrottle):
    """Per browser user (session authentication)."""

    scope = "api_session"

    def subject(self, request) -> str | None:
        if isinstance(request.auth, ApiToken) or not request.user.is_authenticated:
            return None
        return str(request.user.pk)
