from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from .models import ApiToken


class _DynamicRate(SimpleRateThrottle):
    """Reads the rate at request time, so settings overrides (tests, ops) take effect."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def __init__(self):  # the base class reads the rate once at construction; keep that lazy
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)


class TokenRateThrottle(_DynamicRate):
    """Per API token."""

    scope = "api_token"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class SessionUserRateThrottle(_DynamicRate):
    """Per browser user (session authentication)."""

    scope = "api_session"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken) or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
