from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from .models import TOKEN_PREFIX, ApiToken, hash_token


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer crm_…``. The request acts as the token's user, narrowed to the
    token's creditor (see selectors)."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header."))
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token header."))
        if not raw.startswith(TOKEN_PREFIX):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token = (
            ApiToken.objects.select_related("user", "creditor")
            .filter(key_hash=hash_token(raw), revoked_at__isnull=True)
            .first()
        )
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token."))
        now = timezone.now()
        # At most one write a minute per token, so a busy integration does not rewrite the row.
        if token.last_used_at is None or token.last_used_at < now - dt.timedelta(minutes=1):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
