"""Business operations on cases: the one write path used by pages, API, tasks and commands."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_crm.accounts.models import Role, User
from collections_crm.audit.services import audit_record, diff, snapshot

from .choices import CASE_TRANSITIONS, BarrierStatus, CaseStatus, InstalmentStatus, PlanStatus, PromiseStatus
from .models import ZERO, Barrier, Case, Creditor, Instalment, Payment, PromiseToPay


class StaleVersionError(ValidationError):
    """The case changed since the form was opened; the caller must reload."""

    def __init__(self):
        super().__init__(
            _("Someone else changed this case while you were editing it. Reload the page and try again."),
            code="stale",
        )


CASE_AUDIT_FIELDS = [
    "status", "objective", "objective_reason", "assigned_agent_id", "balance", "fees",
    "next_action_at", "next_action_note", "closed_at", "last_contact_at", "last_outcome", "version",
]


def _lock_case(case_id: int, expected_version: int | None = None) -> Case:
    case = Case.objects.select_for_update().get(pk=case_id)
    if expected_version is not None and case.version != expected_version:
        raise StaleVersionError()
    return case


def _save_case(case: Case, before: dict, *, actor, action: str, now: dt.datetime) -> None:
    """Persist the changed case fields, bump the version and write the audit row."""
    case.version = F("version") + 1
    after = snapshot(case, [f for f in CASE_AUDIT_FIELDS if f != "version"])
    changed = [f for f in after if after[f] != before.get(f)]
    fields = [f.removesuffix("_id") if f.endswith("_id") else f for f in changed]
    case.save(update_fields=[*fields, "version", "updated_at"] if fields else ["version", "updated_at"])
    case.refresh_from_db(fields=["version"])
    b, a = diff(before, after)
    audit_record(actor=actor, action=action, obj=case, before=b, after=a, at=now)


def case_create(
    *,
    actor: User | None,
    creditor: Creditor,
    debtor,
    reference: str,
    original_amount: Decimal,
    due_date: dt.date,
    fees: Decimal = ZERO,
    balance: Decimal | None = None,
    currency: str | None = None,
    placed_at: dt.date | None = None,
    assigned_agent: User | None = None,
    now: dt.datetime | None = None,
) -> Case:
    now = now or timezone.now()
    case = Case(
        creditor=creditor,
        debtor=debtor,
        reference=reference.strip(),
        original_amount=original_amount,
        fees=fees,
        balance=original_amount + fees if balance is None else balance,
        currency=currency or creditor.currency,
        due_date=due_date,
        placed_at=placed_at or timezone.localdate(now),
        assigned_agent=assigned_agent,
        next_action_at=now,
        next_action_note=_("New case: first contact"),
    )
    case.full_clean()
    with transaction.atomic():
        case.save()
        audit_record(actor=actor, action="case.created", obj=case, after=snapshot(case), at=now)
        case_replan(case=case, actor=actor, now=now)
    return case


def case_create_with_debtor(*, actor: User | None, creditor: Creditor, debtor: dict, now: dt.datetime | None = None, **case_fields) -> Case:
    """Open a case for the debtor identified by ``debtor['document_type']`` and
    ``['document_number']``, creating the debtor if new. All or nothing."""
    from debtors.services import debtor_get_or_create

    now = now or timezone.now()
    with transaction.atomic():
        person, _created = debtor_get_or_create(actor=actor, now=now, **debtor)
        return case_create(actor=actor, creditor=creditor, debtor=person, now=now, **case_fields)


def case_assign(*, actor: User, case_id: int, agent: User | None, now: dt.datetime | None = None) -> Case:
    if agent is not None and (agent.role != Role.AGENT or not agent.is_active):
        raise ValidationError({"agent": _("Cases can only be assigned to active agents.")})
    now = now or timezone.now()
    with transaction.atomic():
        case = _lock_case(case_id)
        if case.assigned_agent_id == (agent.pk if agent else None):
            return case
        before = snapshot(case, CASE_AUDIT_FIELDS)
        case.assigned_agent = agent
        _save_case(case, before, actor=actor, action="case.assigned", now=now)
        case_replan(case=case, actor=actor, now=now)
    return case


def case_set_status(
    *, actor: User | None, case_id: int, status: str, expected_version: int | None = None, now: dt.datetime | None = None
) -> Case:
    now = now or timezone.now()
    with transaction.atomic():
        case = _lock_case(case_id, expected_version)
        if case.status == status:
            return case
        if status not in CASE_TRANSITIONS.get(case.status, set()):
            raise ValidationError(
                {"status": _("A case cannot go from %(old)s to %(new)s.") % {"old": case.get_status_display(), "new": CaseStatus(status).label}}
            )
        if status == CaseStatus.PAID and case.balance != ZERO:
            raise ValidationError({"status": _("Only a case with a zero balance is paid.")})
        before = snapshot(case, CASE_AUDIT_FIELDS)
        case.status = status
        case.closed_at = now if status in (CaseStatus.PAID, CaseStatus.CLOSED) else None
        _save_case(case, before, actor=actor, action="case.status_changed", now=now)
        case_replan(case=case, actor=actor, now=now)
    return case


CASE_EDITABLE_FIELDS = ("objective", "objective_reason", "next_action_at", "next_action_note")


def case_update(
    *, actor: User | None, case_id: int, expected_version: int | None, changes: dict, now: dt.datetime | None = None
) -> Case:
    """Change the case's plan of work (objective, next step) by hand. ``expected_version``
    refuses a write based on an older read (StaleVersionError). No replanning here: the
    person's choice stands until the next event on the case replans it."""
    unknown = set(changes) - set(CASE_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable here: {sorted(unknown)}")
    now = now or timezone.now()
    with transaction.atomic():
        case = _lock_case(case_id, expected_version)
        if not case.is_open:
            raise ValidationError(_("This case is closed."))
        before = snapshot(case, CASE_AUDIT_FIELDS)
        for name, value in changes.items():
            setattr(case, name, value)
        case.clean_fields(exclude=[f.name for f in Case._meta.fields if f.name not in changes])
        _save_case(case, before, actor=actor, action="case.updated", now=now)
    return case


def promise_record(
    *,
    actor: User | None,
    case_id: int,
    amount: Decimal,
    due_date: dt.date,
    method: str = "transfer",
    contact_attempt=None,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> PromiseToPay:
    now = now or timezone.now()
    errors = {}
    if amount is None or amount <= 0:
        errors["amount"] = _("The amount must be greater than zero.")
    if due_date < timezone.localdate(now):
        errors["due_date"] = _("A promise cannot be dated in the past.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        case = _lock_case(case_id, expected_version)
        if not case.is_open:
            raise ValidationError(_("This case is closed."))
        if amount > case.balance:
            raise ValidationError({"amount": _("The promise (%(amount)s) is larger than the balance (%(balance)s).") % {"amount": amount, "balance": case.balance}})
        promise = PromiseToPay.objects.create(
            case=case, amount=amount, due_date=due_date, method=method, created_by=actor,
            contact_attempt=contact_attempt, created_at=now,
        )
        audit_record(actor=actor, action="promise.recorded", obj=promise, after=snapshot(promise), at=now)
        before = snapshot(case, CASE_AUDIT_FIELDS)
        if case.status in (CaseStatus.NEW, CaseStatus.ACTIVE):
            case.status = CaseStatus.PROMISED
        _save_case(case, before, actor=actor, action="case.promise_recorded", now=now)
        case_replan(case=case, actor=actor, now=now)
    return promise


def payment_post(
    *,
    actor: User | None,
    case_id: int,
    amount: Decimal,
    received_on: dt.date,
    method: str = "transfer",
    reference: str = "",
    idempotency_key: str | None = None,
    now: dt.datetime | None = None,
) -> Payment:
    """Post a payment: lower the balance, settle promises and instalments, close at zero."""
    now = now or timezone.now()
    if amount is None or amount <= 0:
        raise ValidationError({"amount": _("The amount must be greater than zero.")})
    if received_on > timezone.localdate(now):
        raise ValidationError({"received_on": _("A payment cannot be received in the future.")})
    with transaction.atomic():
        case = _lock_case(case_id)
        # Checked after taking the case lock: a concurrent post with the same key on the same
        # case has committed by then, and each statement sees the latest committed rows.
        if idempotency_key:
            existing = Payment.objects.filter(idempotency_key=idempotency_key).first()
            if existing:
                return existing
        if case.status == CaseStatus.CLOSED:
            raise ValidationError(_("This case is closed."))
        if amount > case.balance:
            raise ValidationError({"amount": _("The payment (%(amount)s) is larger than the balance (%(balance)s).") % {"amount": amount, "balance": case.balance}})
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    case=case, amount=amount, received_on=received_on, method=method, reference=reference,
                    idempotency_key=idempotency_key or None, posted_by=actor, created_at=now,
                )
        except IntegrityError:
            # The same key was used at once for another case (no shared lock): the unique index
            # made this insert wait for the other transaction, which won.
            existing = Payment.objects.filter(idempotency_key=idempotency_key).first() if idempotency_key else None
            if existing is None:
                raise
            return existing
        audit_record(actor=actor, action="payment.posted", obj=payment, after=snapshot(payment), at=now)
        _settle_promises(case, amount, actor=actor, now=now)
        _settle_instalments(case, amount, actor=actor, now=now)
        before = snapshot(case, CASE_AUDIT_FIELDS)
        case.balance = case.balance - amount
        case.last_outcome = "payment"
        if case.balance == ZERO:
            case.status = CaseStatus.PAID
            case.closed_at = now
            case.plans.filter(status=PlanStatus.ACTIVE).update(status=PlanStatus.COMPLETED)
        elif case.status in (CaseStatus.NEW,):
            case.status = CaseStatus.ACTIVE
        _save_case(case, before, actor=actor, action="case.payment_posted", now=now)
        case_replan(case=case, actor=actor, now=now)
    return payment


def _settle_promises(case: Case, amount: Decimal, *, actor, now: dt.datetime) -> None:
    remaining = amount
    for promise in case.promises.select_for_update().filter(status=PromiseStatus.PENDING).order_by("due_date", "id"):
        if remaining <= 0:
            break
        applied = min(remaining, promise.amount - promise.amount_paid)
        remaining -= applied
        before = snapshot(promise, ["status", "amount_paid"])
        promise.amount_paid += applied
        if promise.amount_paid >= promise.amount:
            promise.status = PromiseStatus.KEPT
            promise.resolved_at = now
        promise.save(update_fields=["amount_paid", "status", "resolved_at"])
        action = "promise.kept" if promise.status == PromiseStatus.KEPT else "promise.part_paid"
        audit_record(actor=actor, action=action, obj=promise, before=before, after=snapshot(promise, ["status", "amount_paid"]), at=now)


def _settle_instalments(case: Case, amount: Decimal, *, actor, now: dt.datetime) -> None:
    remaining = amount
    instalments = (
        Instalment.objects.select_for_update()
        .filter(plan__case=case, plan__status=PlanStatus.ACTIVE)
        .exclude(status=InstalmentStatus.PAID)
        .order_by("number")
    )
    for inst in instalments:
        if remaining <= 0:
            break
        applied = min(remaining, inst.amount - inst.amount_paid)
        remaining -= applied
        before = snapshot(inst, ["status", "amount_paid"])
        inst.amount_paid += applied
        inst.status = InstalmentStatus.PAID if inst.amount_paid >= inst.amount else InstalmentStatus.PARTIAL
        inst.save(update_fields=["amount_paid", "status"])
        audit_record(actor=actor, action="instalment.paid", obj=inst, before=before, after=snapshot(inst, ["status", "amount_paid"]), case_id=case.pk, at=now)
    plan = case.plans.filter(status=PlanStatus.ACTIVE).first()
    if plan and not plan.instalments.exclude(status=InstalmentStatus.PAID).exists():
        plan.status = PlanStatus.COMPLETED
        plan.save(update_fields=["status"])
        audit_record(actor=actor, action="plan.completed", obj=plan, after={"status": plan.status}, at=now)


def barrier_open(*, actor: User | None, case_id: int, kind: str, description: str = "", now: dt.datetime | None = None) -> Barrier:
    now = now or timezone.now()
    with transaction.atomic():
        case = _lock_case(case_id)
        barrier = Barrier(case=case, kind=kind, description=description, opened_by=actor, opened_at=now)
        barrier.full_clean()
        barrier.save()
        audit_record(actor=actor, action="barrier.opened", obj=barrier, after=snapshot(barrier), at=now)
        case_replan(case=case, actor=actor, now=now)
    return barrier


def barrier_remove(*, actor: User | None, barrier_id: int, now: dt.datetime | None = None) -> Barrier:
    now = now or timezone.now()
    with transaction.atomic():
        barrier = Barrier.objects.select_for_update().get(pk=barrier_id)
        if barrier.status != BarrierStatus.OPEN:
            raise ValidationError(_("This barrier was already removed."))
        barrier.status = BarrierStatus.REMOVED
        barrier.removed_by = actor
        barrier.removed_at = now
        barrier.save(update_fields=["status", "removed_by", "removed_at"])
        audit_record(actor=actor, action="barrier.removed", obj=barrier, before={"status": "open"}, after={"status": "removed"}, at=now)
        case_replan(case=Case.objects.get(pk=barrier.case_id), actor=actor, now=now)
    return barrier


def case_replan(*, case: Case, actor: User | None, now: dt.datetime) -> None:
    """Decide the case's next step after any event, inside the caller's transaction: the
    follow-up engine (contacts.services_followup) chooses the objective by the strategy rules,
    cancels follow-ups that no longer fit, schedules the next one within the contact policy and
    updates ``objective``, ``objective_reason``, ``next_action_at`` and ``next_action_note``."""
    from contacts.services_followup import case_replan_now

    case_replan_now(case=case, actor=actor, now=now)
