"""API tokens (created and revoked by admins, audited) and the Idempotency-Key records of
the create calls."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Creditor
from collections_crm.accounts.models import User
from collections_crm.audit.services import audit_record

from .exceptions import IdempotencyConflict, IdempotencyMismatch
from .models import ApiToken, IdempotencyRecord, hash_token, new_raw_token


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


# --- Idempotency keys -----------------------------------------------------------------------


@dataclass(frozen=True)
class IdempotentReplay:
    """The stored answer of the first call made with a key."""

    status_code: int
    body: object


def payment_idempotency_key(*, scope: str, key: str) -> str:
    """The key a payment posted through the API carries (payment_post's own unique key)."""
    return f"api:{scope}:{key}"


def idempotency_claim(
    *, scope: str, key: str, path: str, request_hash: str, payments_path: str, now: dt.datetime | None = None
) -> IdempotencyRecord | IdempotentReplay:
    """Claim ``key`` for one client (``scope``) and one endpoint (``path``), inside the caller's
    transaction, before the record is created. Returns the new key row, to be completed with
    ``idempotency_record_answer`` in the same transaction (a failed call rolls it back, so the key
    can be used again), or the first call's answer to replay. A concurrent twin waits on the
    unique index until the first commits, then replays its answer.

    One key space per client across every creating endpoint, payments included: a key used on
    another endpoint is a 409, on this one with another body a 422; never a second record. (A
    payment posted before the shared records existed is found by its own key.)"""
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(scope=scope, key=key, path=path, request_hash=request_hash,
                                                      created_at=now or timezone.now())
    except IntegrityError:
        record = IdempotencyRecord.objects.get(scope=scope, key=key)
    else:
        if path != payments_path:
            from cases.models import Payment

            if Payment.objects.filter(idempotency_key=payment_idempotency_key(scope=scope, key=key)).exists():
                raise IdempotencyConflict()
        return record
    if record.path != path:
        raise IdempotencyConflict()
    if record.request_hash and record.request_hash != request_hash:
        raise IdempotencyMismatch()
    return IdempotentReplay(status_code=200, body=record.body)


def idempotency_record_answer(*, record: IdempotencyRecord, status_code: int, body) -> None:
    record.status_code, record.body = status_code, body
    record.save(update_fields=["status_code", "body"])
