"""Online payments: starting a checkout, and posting it when the provider's signed callback
confirms it.

Exactly once: a callback is claimed by inserting its (provider, event id), so a repeated or
replayed callback finds its row and does nothing; the checkout is locked and must still be
pending (a provider sending two events for one payment posts once); and the payment's
idempotency key is the checkout's id (cases.services.payment_post returns the existing payment).
A callback whose signature fails is recorded as forged and acted on in no way.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Mapping
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.choices import Channel, Direction, Outcome, PaymentMethod
from cases.models import Case
from cases.services import payment_post
from collections_crm.audit.services import audit_record
from collections_crm.core.money import format_money
from contacts.services import contact_attempt_log

from .activity import case_portal_touch
from .links import portal_settings
from .models import CallbackOutcome, Checkout, CheckoutStatus, ProviderEvent
from .providers import CallbackEvent, SignatureError, get_provider

log = logging.getLogger(__name__)

_ORDER_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def _new_order(now: dt.datetime) -> str:
    # Redsys: 4 to 12 characters, the first four digits.
    return f"{now:%y%m}" + "".join(secrets.choice(_ORDER_ALPHABET) for _ in range(8))


def checkout_amount_errors(*, case: Case, amount: Decimal | None) -> dict[str, str]:
    """What is wrong with paying ``amount`` on ``case`` online (empty: nothing)."""
    conf = portal_settings()
    if amount is None or amount <= 0:
        return {"amount": _("The amount must be greater than zero.")}
    if amount > case.balance:
        return {"amount": _("You can pay at most what you owe, %(balance)s.") % {"balance": format_money(case.balance, case.currency)}}
    if amount != case.balance:
        if not conf.allow_partial_payments:
            return {"amount": _("Online, the full balance of %(balance)s can be paid.") % {
                "balance": format_money(case.balance, case.currency)}}
        if amount < conf.min_payment:
            return {"amount": _("The smallest online payment is %(min)s.") % {"min": format_money(conf.min_payment, case.currency)}}
    return {}


def checkout_start(*, case_id: int, link_id: int | None, amount: Decimal, method: str = "", now: dt.datetime | None = None) -> Checkout:
    """Write a pending checkout for ``amount`` with the configured provider, paid by ``method``
    (one the provider offers; its first by default). Nothing is posted."""
    now = now or timezone.now()
    provider = get_provider()
    method = method or provider.methods[0]
    if method not in provider.methods:
        raise ValidationError({"method": _("Choose one of the ways to pay offered.")})
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case_id)
        if not case.is_open:
            raise ValidationError(_("This case is closed."))
        errors = checkout_amount_errors(case=case, amount=amount)
        if errors:
            raise ValidationError(errors)
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    checkout = Checkout.objects.create(
                        order=_new_order(now), case=case, link_id=link_id, provider=provider.name, method=method, amount=amount,
                        currency=case.currency, created_at=now,
                    )
                break
            except IntegrityError:
                continue  # the order number was taken: draw another
        else:  # pragma: no cover - 34**8 numbers a month
            raise RuntimeError("no free order number")
        audit_record(actor=None, action="portal.checkout_started", obj=checkout, case_id=case.pk,
                     after={"provider": provider.name, "method": method, "amount": str(amount), "currency": case.currency,
                            "order": checkout.order},
                     at=now)
    return checkout


def checkout_began(*, checkout_id: int, provider_ref: str) -> None:
    """Keep the provider's own id of the payment (a Stripe Checkout Session) once it gave one."""
    if provider_ref:
        Checkout.objects.filter(pk=checkout_id, status=CheckoutStatus.PENDING).update(provider_ref=provider_ref[:255])


def checkout_cancel(*, checkout_id: int, reason: str, now: dt.datetime | None = None) -> bool:
    """The debtor came back without paying, or the provider could not be reached: a pending
    checkout ends (a callback that still confirms it later is refused, with the money to refund)."""
    now = now or timezone.now()
    with transaction.atomic():
        done = Checkout.objects.filter(pk=checkout_id, status=CheckoutStatus.PENDING).update(
            status=CheckoutStatus.CANCELLED, completed_at=now, failure_reason=reason[:300])
        if done:
            checkout = Checkout.objects.get(pk=checkout_id)
            audit_record(actor=None, action="portal.checkout_cancelled", obj=checkout, case_id=checkout.case_id,
                         after={"reason": reason[:300]}, at=now)
    return bool(done)


def callback_receive(
    *, provider_name: str, body: bytes, headers: Mapping[str, str], form: Mapping[str, str],
    remote_addr: str | None = None, now: dt.datetime | None = None,
) -> str:
    """Handle one provider callback; returns its CallbackOutcome."""
    now = now or timezone.now()
    provider = get_provider(provider_name)
    try:
        event = provider.parse_callback(body=body, headers=headers, form=form)
    except SignatureError as exc:
        with transaction.atomic():
            ProviderEvent.objects.create(provider=provider_name, event_id=None, received_at=now, signature_valid=False,
                                         outcome=CallbackOutcome.FORGED, detail={"why": str(exc)[:200]}, remote_addr=remote_addr)
        log.warning("Payment callback refused: bad signature", extra={"provider": provider_name, "why": str(exc)[:200]})
        return CallbackOutcome.FORGED
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = ProviderEvent.objects.create(
                    provider=provider_name, event_id=event.event_id[:255], received_at=now, signature_valid=True,
                    outcome=CallbackOutcome.IGNORED, detail=dict(event.detail), remote_addr=remote_addr)
        except IntegrityError:
            # The same event again (a retry, a replay): it was handled when first received.
            return CallbackOutcome.DUPLICATE
        outcome = _apply(event, provider_name=provider_name, now=now)
        record.outcome, record.checkout_id = outcome
        record.save(update_fields=["outcome", "checkout"])
    log.info("Payment callback handled", extra={"provider": provider_name, "outcome": record.outcome})
    return record.outcome


def _apply(event: CallbackEvent, *, provider_name: str, now: dt.datetime) -> tuple[str, int | None]:
    checkout = Checkout.objects.select_for_update().filter(provider=provider_name, order=event.order).first()
    if checkout is None or event.paid is None:
        return CallbackOutcome.IGNORED, checkout.pk if checkout else None
    if checkout.status in (CheckoutStatus.PAID, CheckoutStatus.REFUSED, CheckoutStatus.FAILED):
        return CallbackOutcome.DUPLICATE, checkout.pk
    # A pending checkout, or one the debtor left (cancelled) that the provider says was paid after all.
    if not event.paid:
        if checkout.status == CheckoutStatus.PENDING:
            checkout.status, checkout.completed_at = CheckoutStatus.FAILED, now
            checkout.failure_reason = str(event.detail.get("status", ""))[:300]
            checkout.save(update_fields=["status", "completed_at", "failure_reason"])
            audit_record(actor=None, action="portal.checkout_declined", obj=checkout, case_id=checkout.case_id,
                         after={"order": checkout.order}, at=now)
        return CallbackOutcome.DECLINED, checkout.pk
    if event.provider_ref:
        checkout.provider_ref = event.provider_ref[:255]
    if (event.amount is not None and event.amount != checkout.amount) or (event.currency and event.currency.upper() != checkout.currency):
        return _refuse(checkout, _("The provider confirmed %(amount)s %(currency)s, not the amount started.") % {
            "amount": event.amount, "currency": event.currency}, now=now)
    try:
        with transaction.atomic():
            # The attempt first, unplanned: payment_post re-plans the case once, on all the facts.
            contact_attempt_log(actor=None, case_id=checkout.case_id, channel=Channel.PORTAL, direction=Direction.INBOUND,
                                outcome=Outcome.PAYMENT, now=now, replan=False)
            payment = payment_post(
                actor=None, case_id=checkout.case_id, amount=checkout.amount, received_on=timezone.localdate(now),
                method=PaymentMethod.BIZUM if checkout.method == "bizum" else PaymentMethod.CARD,
                reference=f"{provider_name} {checkout.order}",
                idempotency_key=f"checkout:{checkout.public_id}", now=now,
            )
    except ValidationError as exc:
        # The money was taken but the case cannot take it (paid or closed meanwhile): staff refund
        # or apply it by hand; the checkout says why.
        return _refuse(checkout, " ".join(exc.messages), now=now)
    checkout.status, checkout.completed_at, checkout.payment = CheckoutStatus.PAID, now, payment
    checkout.save(update_fields=["status", "completed_at", "payment", "provider_ref"])
    audit_record(actor=None, action="portal.checkout_paid", obj=checkout, case_id=checkout.case_id,
                 after={"order": checkout.order, "payment_id": payment.pk, "amount": str(checkout.amount),
                        "currency": checkout.currency}, at=now)
    case_portal_touch(case_id=checkout.case_id, now=now)
    return CallbackOutcome.POSTED, checkout.pk


def _refuse(checkout: Checkout, reason: str, *, now: dt.datetime) -> tuple[str, int]:
    checkout.status, checkout.completed_at, checkout.failure_reason = CheckoutStatus.REFUSED, now, reason[:300]
    checkout.save(update_fields=["status", "completed_at", "failure_reason", "provider_ref"])
    audit_record(actor=None, action="portal.checkout_refused", obj=checkout, case_id=checkout.case_id,
                 after={"order": checkout.order, "reason": reason[:300], "amount": str(checkout.amount),
                        "currency": checkout.currency}, at=now)
    case_portal_touch(case_id=checkout.case_id, now=now)
    log.warning("Online payment could not be posted", extra={"checkout_id": checkout.pk})
    return CallbackOutcome.REFUSED, checkout.pk
