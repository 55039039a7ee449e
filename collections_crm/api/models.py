from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

TOKEN_PREFIX = "crm_"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_raw_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class ApiToken(models.Model):
    """A per-client key for an integration. Only its SHA-256 is stored; the key is shown once."""

    name = models.CharField(_("name"), max_length=100)
    creditor = models.ForeignKey("cases.Creditor", verbose_name=_("creditor"), on_delete=models.PROTECT, related_name="api_tokens")
    can_write = models.BooleanField(_("may write"), default=False)
    # Whose rights the integration uses (and who the audit log names); narrowed to the creditor.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("acts as"), on_delete=models.PROTECT, related_name="api_tokens"
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_hint = models.CharField(_("key starts with"), max_length=12, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("created"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.key_hint}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyRecord(models.Model):
    """The response to a create call made with an Idempotency-Key, replayed for a retry."""

    # "t<token id>" or "u<user id>": one client's keys never meet another's.
    scope = models.CharField(max_length=24)
    key = models.CharField(max_length=100)
    path = models.CharField(max_length=200)
    # SHA-256 of the request body: the same key with another body is refused, not replayed.
    request_hash = models.CharField(max_length=64, blank=True)
    status_code = models.PositiveSmallIntegerField(default=0)
    body = models.JSONField(null=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_unique_key")]
        indexes = [
            # Purging old keys: WHERE created_at < ?
            models.Index(fields=["created_at"], name="idempotency_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"
