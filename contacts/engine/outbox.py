"""The outbox: messages are written in the transaction that decides to send them, then sent by
a task with an idempotency key, logged as a contact attempt, and (letters) gathered into a daily
print batch."""

from __future__ import annotations

import datetime as dt
import logging
from email.utils import make_msgid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from cases.choices import Channel, Outcome, PromiseStatus
from cases.models import Case
from collections_crm.audit.services import audit_record
from collections_crm.core.enqueue import enqueue_on_commit
from collections_crm.core.money import format_money
from debtors.models import Debtor

from ..hooks import portal_link
from ..messaging.letters import render_letters_pdf
from ..messaging.sms import get_sms_backend
from ..models import (
    FollowUp,
    FollowUpSettings,
    MessageStatus,
    MessageTemplate,
    MessageTemplateVersion,
    OutboundMessage,
    PrintBatch,
    RefusalStage,
)
from ..services import contact_attempt_log
from ..templating import LINK_PLACEHOLDERS, PLACEHOLDER_RE, render_text
from . import policy
from .contact_policy import contact_check, contact_histories, debtor_info, point_info, refusal_record, usable_point
from .strategy import packs_cached
from .sweeper import claim_lease

log = logging.getLogger(__name__)

SENDABLE = {Channel.EMAIL, Channel.SMS, Channel.LETTER}
MAX_SEND_ATTEMPTS = 5


# --- Rendering -----------------------------------------------------------------------------------


def template_resolve(*, template_id: int | None, objective: str, channel: str, language: str) -> MessageTemplateVersion | None:
    """The version to send: the step's template in the debtor's language (same name), else the
    active template for the objective and channel in that language, else in Spanish."""
    qs = MessageTemplate.objects.filter(active=True, current_version__isnull=False, channel=channel)
    chosen = None
    if template_id:
        base = MessageTemplate.objects.filter(pk=template_id).first()
        if base is not None:
            chosen = qs.filter(objective=base.objective, name=base.name, language=language).first() or (
                base if base.active and base.current_version_id else None)
    if chosen is None:
        for lang in (language, "es"):
            chosen = qs.filter(objective=objective, language=lang).order_by("id").first()
            if chosen:
                break
    if chosen is None or chosen.current_version_id is None:
        return None
    return MessageTemplateVersion.objects.get(pk=chosen.current_version_id)


def placeholder_values(*, case: Case, debtor: Debtor, now: dt.datetime, link_source: str = "") -> dict[str, str]:
    """The values of every placeholder of contacts.templating.PLACEHOLDERS, built from the case,
    formatted in the debtor's language. With ``link_source`` (the channel of the message being
    written) the personal link is a new one, issued for it; without (a preview) a sample."""
    today = timezone.localdate(now)
    if link_source:
        link_url, link_code = portal_link(case_id=case.pk, source=link_source, now=now)
    else:
        link_url, link_code = f"{settings.CRM_PORTAL_BASE_URL}/p/…", "XXXXX-XXXXX"
    promise = case.promises.filter(status=PromiseStatus.PENDING).order_by("due_date").first() or case.promises.order_by("-due_date").first()
    agent = case.assigned_agent
    with translation.override(debtor.language or "es"):
        return {
            "debtor_name": debtor.name,
            "amount_due": format_money(case.balance, case.currency),
            "original_amount": format_money(case.original_amount, case.currency),
            "due_date": case.due_date.strftime("%d/%m/%Y"),
            "days_past_due": str(case.days_past_due(today)),
            "creditor_name": case.creditor.name,
            "case_reference": case.reference,
            "agent_name": (agent.get_full_name() or agent.username) if agent else settings.CRM_COMPANY_NAME,
            "company_name": settings.CRM_COMPANY_NAME,
            "payment_link": link_url,
            "portal_code": link_code,
            "promise_amount": format_money(promise.amount - promise.amount_paid, case.currency) if promise else "",
            "promise_date": promise.due_date.strftime("%d/%m/%Y") if promise else "",
            "opt_out_text": str(_("To stop receiving these messages, reply STOP or write to %(email)s.") % {
                "email": settings.DEFAULT_FROM_EMAIL}),
        }


def message_create(*, followup: FollowUp, case: Case, now: dt.datetime) -> str:
    """Decide and write one automatic step's message (inside followups_execute's transaction).
    Returns "queued", "rescheduled" (policy: not now; ``followup.due_at`` moved), "blocked"
    (policy: not at all until a flag changes) or "skipped" (nothing usable to send with)."""
    debtor = Debtor.objects.get(pk=case.debtor_id)
    if followup.channel not in SENDABLE:
        followup.result = gettext_noop("This channel cannot be sent automatically.")
        return "skipped"
    pack, rules = packs_cached().for_country(debtor.country)
    point, first = usable_point(debtor.contact_points.all(), followup.channel, rules)
    history = contact_histories(cases=[(case.pk, debtor.pk)], now=now)[case.pk]
    decision = policy.can_contact(
        debtor=debtor_info(debtor), case_status=case.status, channel=followup.channel, at=now, pack=rules,
        history=history, point=point_info(point or first),
    )
    if not decision.allowed:
        refusal_record(case_id=case.pk, channel=followup.channel, decision=decision, stage=RefusalStage.SEND, now=now,
                       pack=pack, followup_id=followup.pk)
        if decision.next_allowed_at is not None:
            followup.due_at, followup.policy_reason = decision.next_allowed_at, decision.reason
            return "rescheduled"
        followup.result = decision.reason
        # A refused contact point only skips this step; a refused debtor or case stops the plan.
        return "skipped" if decision.reason in (policy.POINT_OPTED_OUT, policy.POINT_DO_NOT_CONTACT, policy.NO_CONSENT) else "blocked"
    if point is None:
        followup.result = gettext_noop("No usable contact point for this channel.")
        return "skipped"
    if followup.purpose == "promise_reminder":
        conf = FollowUpSettings.objects.filter(pk=1).first()
        template_id = conf.reminder_template_id if conf else None
    else:
        template_id = followup.cadence_step.template_id if followup.cadence_step is not None else None
    version = template_resolve(template_id=template_id, objective=followup.objective, channel=followup.channel,
                               language=debtor.language)
    if version is None:
        followup.result = gettext_noop("No active template for this objective and channel.")
        return "skipped"
    uses_link = bool(LINK_PLACEHOLDERS & set(PLACEHOLDER_RE.findall(f"{version.subject}\n{version.body}")))
    values = placeholder_values(case=case, debtor=debtor, now=now, link_source=followup.channel if uses_link else "")
    message = OutboundMessage.objects.create(
        case=case, followup=followup, channel=followup.channel, objective=followup.objective, contact_point=point,
        recipient=point.value, template_version=version, language=debtor.language,
        subject=render_text(version.subject, values)[:300], body=render_text(version.body, values),
        idempotency_key=f"followup-{followup.pk}", not_before=now, dispatched_at=now, created_at=now,
    )
    audit_record(actor=None, action="message.queued", obj=message,
                 after={"channel": message.channel, "template_version_id": version.pk, "followup_id": followup.pk}, at=now)
    followup.result = gettext_noop("Message queued")
    _dispatch_on_commit(message.pk)
    return "queued"


def _dispatch_on_commit(message_id: int) -> None:
    from ..tasks import send_message  # the task module imports the engine: imported when needed

    enqueue_on_commit(send_message, message_id)


# --- Sending -------------------------------------------------------------------------------------


def _deliver(message: OutboundMessage) -> str:
    if message.channel == Channel.EMAIL:
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
        email = EmailMessage(
            subject=message.subject, body=message.body, from_email=settings.DEFAULT_FROM_EMAIL, to=[message.recipient],
            # The idempotency key as Message-ID lets the provider or the receiving server drop a
            # duplicate if a worker died after handing the e-mail over.
            headers={"Message-ID": make_msgid(idstring=message.idempotency_key, domain=domain)},
        )
        email.send(fail_silently=False)
        return f"email:{message.idempotency_key}"
    if message.channel in (Channel.SMS, Channel.WHATSAPP):
        return get_sms_backend().send(to=message.recipient, body=message.body, idempotency_key=message.idempotency_key)
    return ""  # letters: printed with their day's batch


def message_send(*, message_id: int, now: dt.datetime) -> str:
    """Send one outbox message. Claimed with a conditional update (queued → sending, or a
    sending row whose lease expired because its worker died), re-checked against the contact
    policy, handed to the backend with its idempotency key, then marked sent and logged as a
    contact attempt. Safe to run twice and safe to kill at any point."""
    claimed = OutboundMessage.objects.filter(pk=message_id).filter(
        Q(status=MessageStatus.QUEUED, not_before__lte=now) | Q(status=MessageStatus.SENDING, claimed_at__lt=now - claim_lease())
    ).update(status=MessageStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return "not-claimed"
    message = OutboundMessage.objects.select_related("case", "contact_point").get(pk=message_id)
    decision = contact_check(case=message.case, channel=message.channel, contact_point=message.contact_point, now=now,
                             stage=RefusalStage.SEND, followup_id=message.followup_id)
    if not decision.allowed:
        if decision.next_allowed_at is not None:
            OutboundMessage.objects.filter(pk=message_id, status=MessageStatus.SENDING).update(
                status=MessageStatus.QUEUED, not_before=decision.next_allowed_at, dispatched_at=None, error=decision.reason)
        else:
            OutboundMessage.objects.filter(pk=message_id, status=MessageStatus.SENDING).update(
                status=MessageStatus.CANCELLED, error=decision.reason)
        return "refused"
    try:
        provider_id = _deliver(message)
    except Exception as exc:  # noqa: BLE001 - any backend failure is retried later, then given up
        failed = message.attempts >= MAX_SEND_ATTEMPTS
        OutboundMessage.objects.filter(pk=message_id, status=MessageStatus.SENDING).update(
            status=MessageStatus.FAILED if failed else MessageStatus.QUEUED, dispatched_at=None,
            not_before=now + dt.timedelta(minutes=5 * message.attempts), error=type(exc).__name__[:300],
        )
        log.warning("message %s not sent (attempt %s): %s", message_id, message.attempts, type(exc).__name__)
        return "failed" if failed else "retry"
    with transaction.atomic():
        done = OutboundMessage.objects.filter(pk=message_id, status=MessageStatus.SENDING).update(
            status=MessageStatus.SENT, sent_at=now, provider_id=provider_id, error="")
        if not done:
            return "not-claimed"
        batch_id = None
        if message.channel == Channel.LETTER:
            batch, _created = PrintBatch.objects.get_or_create(day=timezone.localdate(now), defaults={"created_at": now})
            batch_id = batch.pk
        attempt = contact_attempt_log(
            actor=None, case_id=message.case_id, channel=message.channel, outcome=Outcome.SENT, objective=message.objective,
            contact_point=message.contact_point, occurred_at=now, now=now,
        )
        OutboundMessage.objects.filter(pk=message_id).update(contact_attempt=attempt, print_batch_id=batch_id)
        audit_record(actor=None, action="message.sent", obj=message,
                     after={"status": "sent", "attempts": message.attempts, "print_batch_id": batch_id}, case_id=message.case_id, at=now)
    return "sent"


def messages_due_for_dispatch(*, now: dt.datetime, limit: int = 500) -> list[int]:
    """Outbox relay: queued messages whose time has come and that are not already in the broker,
    and sending messages whose worker died (lease expired). Marks them handed out."""
    stale = now - claim_lease()
    with transaction.atomic():
        ids = list(
            OutboundMessage.objects.select_for_update(skip_locked=True).filter(
                Q(status=MessageStatus.QUEUED, not_before__lte=now) & (Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=stale))
                | Q(status=MessageStatus.SENDING, claimed_at__lt=stale) & (Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=stale))
            ).order_by("not_before").values_list("pk", flat=True)[:limit]
        )
        OutboundMessage.objects.filter(pk__in=ids).update(dispatched_at=now)
    return ids


# --- Letters -------------------------------------------------------------------------------------


def print_batches_render(*, now: dt.datetime) -> list[int]:
    """(Re-)render every print batch that has letters not yet in its PDF."""
    rendered = []
    batches = PrintBatch.objects.annotate(last=Max("letters__sent_at")).filter(last__isnull=False).filter(
        Q(rendered_at__isnull=True) | Q(last__gt=F("rendered_at")))
    for batch in batches:
        letters = [
            {"recipient": m.recipient, "subject": m.subject, "body": m.body, "date": m.sent_at.strftime("%d/%m/%Y") if m.sent_at else "",
             "language": m.language}
            for m in batch.letters.filter(status=MessageStatus.SENT).order_by("id")
        ]
        with transaction.atomic():
            batch.pdf.save(f"batch-{batch.day:%Y-%m-%d}.pdf", ContentFile(render_letters_pdf(letters)), save=False)
            batch.rendered_at = now
            batch.save(update_fields=["pdf", "rendered_at"])
            audit_record(actor=None, action="print_batch.rendered", obj=batch, after={"letters": len(letters)}, at=now)
        rendered.append(batch.pk)
    return rendered
