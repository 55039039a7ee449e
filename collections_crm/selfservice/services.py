"""What a debtor does in the portal, each through the services staff use (one write path).

Every action is logged as an inbound contact attempt on the portal channel (with the case's
objective and the action's outcome), audited as ``portal.<action>`` on the case, and re-plans the
case (the services it calls do). All of it in one transaction: a refused action writes nothing.
The actor is None: the debtor is not a user; the audit rows say ``portal``.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.choices import (
    BarrierKind,
    BarrierStatus,
    Channel,
    Direction,
    Outcome,
    PlanFrequency,
    PlanStatus,
    PromiseStatus,
    StatementKind,
)
from cases.guardrails import Limits, plan_needs_approval
from cases.models import Barrier, Case, PaymentPlan, PlanGuardrails, PromiseToPay
from cases.services import barrier_open, case_lock, plan_create, plan_schedule, promise_record
from collections_crm.audit.services import audit_record
from contacts.engine.contact_policy import contact_check
from contacts.models import ContactAttempt, RefusalStage
from contacts.services import contact_attempt_log
from debtors.models import ContactPoint, ContactPointKind, ContactTime
from debtors.services import contact_point_set_flags, debtor_update

from .activity import case_portal_touch
from .links import portal_settings
from .models import PortalUpload, UploadPurpose
from .statement import statement_pdf

ZERO = Decimal("0.00")


def _attempt(*, case_id: int, outcome: str, now: dt.datetime, notes: str = "", statement_kind: str = "",
             next_step: str = "", next_step_at: dt.datetime | None = None, replan: bool = True) -> ContactAttempt:
    """The portal contact attempt of an action. ``replan=False`` when the service called next
    re-plans the case (planning once is half the cost of a payment)."""
    return contact_attempt_log(
        actor=None, case_id=case_id, channel=Channel.PORTAL, direction=Direction.INBOUND, outcome=outcome, notes=notes,
        statement_kind=statement_kind, next_step=next_step, next_step_at=next_step_at, now=now, replan=replan,
    )


# --- Promise ----------------------------------------------------------------------------------


def portal_promise(*, case_id: int, amount: Decimal, due_date: dt.date, now: dt.datetime | None = None) -> PromiseToPay:
    """The debtor promises ``amount`` by ``due_date``, within the admin's promise limit."""
    now = now or timezone.now()
    latest = timezone.localdate(now) + dt.timedelta(days=portal_settings().promise_max_days)
    if due_date > latest:
        raise ValidationError({"due_date": _("Choose a date no later than %(date)s.") % {"date": latest.strftime("%d/%m/%Y")}})
    with transaction.atomic():
        case = case_lock(case_id=case_id)
        if case.promises.filter(status=PromiseStatus.PENDING).exists():
            raise ValidationError(_("You already have a promise to pay pending on this debt."))
        if case.plans.filter(status__in=[PlanStatus.ACTIVE, PlanStatus.PROPOSED]).exists():
            raise ValidationError(_("This debt already has a payment plan."))
        attempt = _attempt(case_id=case_id, outcome=Outcome.PROMISE, now=now, replan=False)
        promise = promise_record(actor=None, case_id=case_id, amount=amount, due_date=due_date, contact_attempt=attempt, now=now)
        audit_record(actor=None, action="portal.promise", obj=promise, case_id=case_id,
                     after={"amount": str(amount), "currency": case.currency, "due_date": due_date.isoformat()}, at=now)
        case_portal_touch(case_id=case_id, now=now)
    return promise


# --- Payment plan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanOption:
    count: int
    frequency: str
    first_date: dt.date
    instalment: Decimal  # the usual instalment (the last one takes the cents left over)
    schedule: list[tuple[int, dt.date, Decimal]]
    live: bool  # inside the guardrails: it starts at once; otherwise a proposal for a supervisor
    why_not: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.count}-{self.frequency}"


OPTION_COUNTS = (2, 3, 4, 6, 9, 12, 18, 24)


def plan_first_date(today: dt.date) -> dt.date:
    """The first instalment a week from today: time to receive and arrange the first payment."""
    return today + dt.timedelta(days=7)


def plan_option(*, case: Case, count: int, frequency: str, today: dt.date, limits: Limits | None = None) -> PlanOption:
    limits = limits or Limits.from_model(PlanGuardrails.current())
    first = plan_first_date(today)
    schedule = plan_schedule(total=case.balance, count=count, frequency=frequency, first_date=first)
    why_not = plan_needs_approval(limits=limits, balance=case.balance, total_amount=case.balance, discount_amount=ZERO,
                                  instalment_count=count, frequency=frequency, first_due_date=first, today=today,
                                  currency=case.currency)
    return PlanOption(count, frequency, first, schedule[0][2], schedule, live=not why_not, why_not=tuple(why_not))


def plan_options(*, case: Case, today: dt.date) -> list[PlanOption]:
    """The monthly plans the guardrails let the debtor start at once, fewest instalments first."""
    limits = Limits.from_model(PlanGuardrails.current())
    options = [plan_option(case=case, count=n, frequency=PlanFrequency.MONTHLY, today=today, limits=limits)
               for n in OPTION_COUNTS if n <= limits.max_instalments]
    return [o for o in options if o.live]


def portal_plan(*, case_id: int, count: int, frequency: str, now: dt.datetime | None = None) -> PaymentPlan:
    """The debtor chooses a plan of ``count`` equal instalments of the whole balance. Inside the
    guardrails it goes live at once; outside them it waits in the supervisors' "Plans to agree"."""
    now = now or timezone.now()
    if not portal_settings().allow_plans:
        raise ValidationError(_("Payment plans cannot be chosen online. Please call us."))
    if frequency not in PlanFrequency.values:
        raise ValidationError({"frequency": _("Choose how often you will pay.")})
    if not 1 <= count <= 60:
        raise ValidationError({"count": _("Choose between 1 and 60 instalments.")})
    today = timezone.localdate(now)
    with transaction.atomic():
        case = case_lock(case_id=case_id)
        if case.promises.filter(status=PromiseStatus.PENDING).exists():
            raise ValidationError(_("You have a promise to pay pending: keep it, or call us to change it."))
        option = plan_option(case=case, count=count, frequency=frequency, today=today)
        attempt_outcome = Outcome.PROMISE if option.live else Outcome.ACKNOWLEDGED
        _attempt(case_id=case_id, outcome=attempt_outcome, now=now, replan=False,
                 next_step="" if option.live else _("Plan proposed online: a supervisor must agree it."))
        plan = plan_create(actor=None, case_id=case_id, total_amount=case.balance, frequency=frequency,
                           instalments=[(d, a) for _n, d, a in option.schedule], agreed=option.live, now=now)
        audit_record(actor=None, action="portal.plan", obj=plan, case_id=case_id,
                     after={"instalment_count": count, "frequency": frequency, "status": plan.status,
                            "total_amount": str(plan.total_amount), "currency": case.currency,
                            "first_due_date": plan.first_due_date.isoformat()}, at=now)
        case_portal_touch(case_id=case_id, now=now)
    return plan


# --- Getting what is missing ------------------------------------------------------------------

# What a debtor may ask for (a subset of the barrier kinds: the ones on our side they can name).
DOCUMENT_KINDS = [BarrierKind.INVOICE_COPY, BarrierKind.TAX_CERTIFICATE, BarrierKind.WITHHOLDING_RECEIPT,
                  BarrierKind.PAYMENT_DETAILS, BarrierKind.OTHER]


def portal_document_request(*, case_id: int, kind: str, words: str, now: dt.datetime | None = None) -> Barrier:
    """The debtor asks for a document: a payment barrier opens for the agent with their words
    (one open barrier per kind: asking twice adds the words to the attempt, not a second barrier)."""
    now = now or timezone.now()
    if kind not in DOCUMENT_KINDS:
        raise ValidationError({"kind": _("Choose what you need.")})
    words = (words or "").strip()
    if kind == BarrierKind.OTHER and not words:
        raise ValidationError({"words": _("Tell us what you need.")})
    with transaction.atomic():
        case_lock(case_id=case_id)
        _attempt(case_id=case_id, outcome=Outcome.EXCUSE, statement_kind=StatementKind.ARGUMENT, now=now,
                 notes=_("Asked online for: %(kind)s. %(words)s") % {"kind": BarrierKind(kind).label, "words": words})
        barrier = Barrier.objects.filter(case_id=case_id, kind=kind, status=BarrierStatus.OPEN).first()
        if barrier is None:
            barrier = barrier_open(actor=None, case_id=case_id, kind=kind, description=words[:300], now=now)
        audit_record(actor=None, action="portal.document_requested", obj=barrier, case_id=case_id, after={"kind": kind}, at=now)
        case_portal_touch(case_id=case_id, now=now)
    return barrier


def portal_statement(*, case: Case, now: dt.datetime | None = None) -> bytes:
    """The statement PDF the debtor downloads (the latest 100 payments), and its audit row."""
    now = now or timezone.now()
    payments = list(case.payments.order_by("-received_on", "-id")[:100])
    pdf = statement_pdf(case=case, payments=payments, today=timezone.localdate(now))
    with transaction.atomic():
        audit_record(actor=None, action="portal.statement_downloaded", obj=case, at=now)
    return pdf


# --- Dispute ------------------------------------------------------------------------------------

# What a debtor may upload, by extension: documents and photos of documents.
UPLOAD_TYPES = {
    ".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
}
# The file's first bytes must say the same as its extension.
_MAGIC = {"application/pdf": (b"%PDF-",), "image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",)}


def upload_problem(upload: UploadedFile, *, max_mb: int) -> str:
    """Why the file cannot be taken ("" when it can): size, type, and content matching the type."""
    if upload.size is None or upload.size > max_mb * 1024 * 1024:
        return _("The file is larger than %(n)d MB.") % {"n": max_mb}
    if upload.size == 0:
        return _("The file is empty.")
    ext = ("." + (upload.name or "").rsplit(".", 1)[-1].lower()) if "." in (upload.name or "") else ""
    content_type = UPLOAD_TYPES.get(ext)
    if content_type is None:
        return _("Send a PDF, JPEG or PNG file.")
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if not head.startswith(_MAGIC[content_type]):
        return _("The file's content is not the type its name says.")
    return ""


def portal_dispute(*, case_id: int, reason: str, upload: UploadedFile | None = None, now: dt.datetime | None = None) -> ContactAttempt:
    """The debtor disputes the debt: the case becomes disputed, collection contact pauses (the
    engine records why), and the agent's queue gets the review task (contacts.engine.planning)."""
    now = now or timezone.now()
    conf = portal_settings()
    if not conf.allow_disputes:
        raise ValidationError(_("Disputes cannot be opened online. Please call us."))
    reason = (reason or "").strip()
    errors = {}
    if len(reason) < 10:
        errors["reason"] = _("Tell us, in a few words, why you dispute the debt.")
    if upload is not None and (problem := upload_problem(upload, max_mb=conf.upload_max_mb)):
        errors["upload"] = problem
    if errors:
        raise ValidationError(errors)
    stored: PortalUpload | None = None
    try:
        with transaction.atomic():
            attempt = _attempt(case_id=case_id, outcome=Outcome.DISPUTE, statement_kind=StatementKind.ARGUMENT, notes=reason, now=now)
            after: dict = {"attempt_id": attempt.pk}
            if upload is not None:
                stored = _store_upload(case_id=case_id, upload=upload, purpose=UploadPurpose.DISPUTE, now=now)
                after["upload_id"] = stored.pk
            audit_record(actor=None, action="portal.dispute", obj=attempt, case_id=case_id, after=after, at=now)
            case_portal_touch(case_id=case_id, now=now)
    except BaseException:
        # The file was written before the rows: nothing half-written stays, on disk either.
        if stored is not None:
            stored.file.storage.delete(stored.file.name)
        raise
    return attempt


def _store_upload(*, case_id: int, upload: UploadedFile, purpose: str, now: dt.datetime) -> PortalUpload:
    ext = "." + (upload.name or "").rsplit(".", 1)[-1].lower()
    content_type = UPLOAD_TYPES[ext]
    # Stored under a random name (the storage adds one if taken): the debtor's file name is kept
    # only as data, never as a path.
    row = PortalUpload(case_id=case_id, purpose=purpose, original_name=(upload.name or "")[-200:], content_type=content_type,
                       size=upload.size or 0, uploaded_at=now)
    row.file.save(f"{case_id}{mimetypes.guess_extension(content_type) or ext}", upload, save=False)
    row.save()
    audit_record(actor=None, action="portal.upload", obj=row, case_id=case_id,
                 after={"purpose": purpose, "content_type": content_type, "size": row.size}, at=now)
    return row


# --- Contact preferences ----------------------------------------------------------------------

# Opting out of a channel, as the contact points record it: e-mail addresses are used only for
# e-mail, so they are marked opted out; a phone also takes calls, so opting out of SMS withdraws
# the consent to automated messages (which the jurisdiction packs require for SMS and WhatsApp).
OPT_OUT_FLAGS: dict[str, tuple[str, dict[str, bool]]] = {Channel.EMAIL: (ContactPointKind.EMAIL, {"opted_out": True}),
                 Channel.SMS: (ContactPointKind.PHONE, {"consent": False})}


@dataclass(frozen=True)
class PreferencesResult:
    opted_out: list[str]
    callback_at: dt.datetime | None = None
    callback_refused: str = ""  # the contact policy's reason code when the call-back was refused
    callback_next_allowed: dt.datetime | None = None


def portal_preferences(
    *, case_id: int, opt_out: list[str], callback_at: dt.datetime | None = None, preferred_time: str | None = None,
    now: dt.datetime | None = None,
) -> PreferencesResult:
    """Opt out of e-mail or SMS (every point of that kind stops being used for it), and ask for a
    call back at a time. The call-back is booked only when the contact policy allows a call then
    (quiet hours, the debtor's zone, limits); otherwise it is refused with the policy's reason and
    its first allowed moment, for the page to offer. ``preferred_time`` (a ContactTime) is when
    calls suit the debtor: the contact policy then places every call inside it."""
    now = now or timezone.now()
    unknown = [c for c in opt_out if c not in (Channel.EMAIL, Channel.SMS)]
    if unknown:
        raise ValidationError({"opt_out": _("Choose e-mail or SMS.")})
    if callback_at is not None and callback_at < now + dt.timedelta(minutes=15):
        raise ValidationError({"callback_at": _("Choose a time at least 15 minutes from now.")})
    if preferred_time is not None and preferred_time not in ContactTime.values:
        raise ValidationError({"preferred_time": _("Choose a time of day.")})
    with transaction.atomic():
        case = case_lock(case_id=case_id)
        done: list[str] = []
        for channel in opt_out:
            kind, flags = OPT_OUT_FLAGS[channel]
            points = ContactPoint.objects.filter(debtor_id=case.debtor_id, kind=kind).exclude(**flags)
            for point_id in points.values_list("pk", flat=True):
                contact_point_set_flags(actor=None, contact_point_id=point_id, now=now, **flags)
            done.append(channel)
        time_changed = preferred_time is not None and preferred_time != case.debtor.preferred_contact_time
        if time_changed:
            # Re-plans the debtor's open cases: their calls move inside the new window.
            debtor_update(actor=None, debtor_id=case.debtor_id, changes={"preferred_contact_time": preferred_time}, now=now)
        result = PreferencesResult(opted_out=done)
        if callback_at is not None:
            decision = contact_check(case=case, channel=Channel.PHONE, now=callback_at, stage=RefusalStage.SCHEDULE, record=False)
            if not decision.allowed:
                result = PreferencesResult(opted_out=done, callback_refused=decision.reason,
                                           callback_next_allowed=decision.next_allowed_at)
            else:
                _attempt(case_id=case_id, outcome=Outcome.CALLBACK, now=now, next_step=_("Call back (asked online)"),
                         next_step_at=callback_at)
                result = PreferencesResult(opted_out=done, callback_at=callback_at)
        if done or result.callback_at or time_changed:
            audit_record(actor=None, action="portal.preferences", obj=case,
                         after={"opted_out": done, "callback_at": result.callback_at.isoformat() if result.callback_at else None,
                                **({"preferred_contact_time": preferred_time} if time_changed else {})},
                         at=now)
            case_portal_touch(case_id=case_id, now=now)
    return result


def upload_open(*, actor, upload: PortalUpload, now: dt.datetime | None = None):
    """A staff user opens a file the debtor sent (the caller checked they may see its case): the
    file handle, and an audit row of who read it (it may hold personal data)."""
    handle = upload.file.storage.open(upload.file.name, "rb")
    with transaction.atomic():
        audit_record(actor=actor, action="portal_upload.downloaded", obj=upload, case_id=upload.case_id,
                     after={"purpose": upload.purpose}, at=now or timezone.now())
    return handle
