"""API tokens: created and revoked by admins, audited."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Creditor
from collections_crm.accounts.models import User
from collections_crm.audit.services import audit_record

from .models import ApiToken, hash_token, new_raw_token


def api_token_create(
    *, actor: User, name: str, creditor: Creditor, user: User, can_write: bool = False, now: dt.datetime | None = None
) -> tuple[ApiToken, str]:
    """Return the token and its raw key; the key is not stored and cannot be shown again."""
    if not actor.is_crm_admin:
        raise ValidationError(_("Only administrators manage API tokens."))
    if not user.is_active:
        raise ValidationError({"user": _("The token must act as an active user.")})
    now = now or timezone.now()
    raw = new_raw_token()
    token = ApiToken(
        name=name.strip(), creditor=creditor, user=user, can_write=can_write,
        key_hash=hash_token(raw), key_hint=raw[:8], created_by=actor, created_at=now,
    )
    token.full_clean()
    with transaction.atomic():
        token.save()
        audit_record(
            actor=actor, action="api_token.created", obj=token,
            after={"creditor_id": creditor.pk, "user_id": user.pk, "can_write": can_write}, at=now,
        )
    return token, raw


def api_token_revoke(*, actor: User, token_id: int, now: dt.datetime | None = None) -> ApiToken:
    if not actor.is_crm_admin:
        raise ValidationError(_("Only administrators manage API tokens."))
    now = now or timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token_id)
        if token.revoked_at is None:
            token.revoked_at = now
            token.save(update_fields=["revoked_at"])
            audit_record(actor=actor, action="api_token.revoked", obj=token, after={"revoked_at": now.isoformat()}, at=now)
    return token
