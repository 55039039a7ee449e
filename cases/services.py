"""Business operations on cases: the one write path used by pages, API, tasks and commands."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from collections_crm.accounts.models import Role, User
from collections_crm.audit.models import AuditLog
from collections_crm.audit.services import audit_record, audited_save, snapshot
from collections_crm.core.dates import add_months
from collections_crm.core.money import format_amount, format_money

from . import hooks, reasons
from .choices import (
    CASE_TRANSITIONS,
    BarrierStatus,
    CaseStatus,
    InstalmentStatus,
    PlanFrequency,
    PlanStatus,
    PromiseStatus,
)
from .guardrails import Limits, plan_needs_approval
from .models import ZERO, Barrier, Case, Creditor, Instalment, Payment, PaymentPlan, PlanGuardrails, PromiseToPay
from .selectors import user_may_approve_plans


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


def case_lock(*, case_id: int, expected_version: int | None = None) -> Case:
    """Lock the case for the caller's transaction (every change of a case, or of anything that
    belongs to it, starts here). ``expected_version`` refuses a write based on an older read."""
    case = Case.objects.select_for_update().get(pk=case_id)
    if expected_version is not None and case.version != expected_version:
        raise StaleVersionError()
    return case


CLOSING_STATUSES = (CaseStatus.PAID, CaseStatus.CLOSED)


def _check_transition(old: str, new: str, *, balance: Decimal) -> None:
    if new not in CASE_TRANSITIONS.get(old, set()):
        raise ValidationError(
            {"status": _("A case cannot go from %(old)s to %(new)s.") % {"old": CaseStatus(old).label, "new": CaseStatus(new).label}}
        )
    if new == CaseStatus.PAID and balance != ZERO:
        raise ValidationError({"status": _("Only a case with a zero balance is paid.")})


# What case_change writes and audits (the version is bumped by every write, not audited).
CASE_FIELDS = [f for f in CASE_AUDIT_FIELDS if f != "version"]


def case_change(
    case: Case, *, actor, action: str, now: dt.datetime, status: str | None = None, clean: bool = False, **fields,
) -> Case:
    """The one write of a case (locked by case_lock in the caller's transaction): apply
    ``fields``, and ``status`` if given (checked against CASE_TRANSITIONS; ``closed_at`` follows),
    save what changed and write the audit row (audited_save: before/after of the changed fields),
    and bump the version, on every call, so that a form opened before any change of the case is
    stale. This is the only place a case's status is assigned; set-based paths use
    cases_change_status."""
    unknown = set(fields) - set(CASE_FIELDS)
    if unknown:
        raise ValueError(f"case_change does not write {sorted(unknown)}")
    changes = dict(fields)
    if status is not None and status != case.status:
        changes.update(status=status, closed_at=now if status in CLOSING_STATUSES else None)

    def check(obj: Case, before: dict) -> None:
        if "status" in changes:
            _check_transition(before["status"], obj.status, balance=obj.balance)
        if clean:
            obj.clean_fields(exclude=[f.name for f in Case._meta.fields if f.attname not in fields])

    case.version = F("version") + 1  # an expression, resolved by the save
    _before, after = audited_save(obj=case, changes=changes, fields=CASE_FIELDS, actor=actor, action=action, at=now,
                                  check=check, clean=False, touch=("version",))
    if not after:
        # Nothing changed, but the case was acted on: still a new version.
        Case.objects.filter(pk=case.pk).update(version=F("version") + 1, updated_at=now)
    case.refresh_from_db(fields=["version"])
    return case


def cases_change_status(
    *, case_ids: list[int], from_status: str, status: str, actor, now: dt.datetime, action: str = "case.status_changed",
) -> list[int]:
    """The set-based form of case_change for a status move (a sweeper's): the cases among
    ``case_ids`` still in ``from_status`` move to ``status`` in one conditional UPDATE, their
    versions bumped, one audit row each. Returns the ids that moved (a second run moves none)."""
    if status not in CASE_TRANSITIONS.get(from_status, set()):
        raise ValueError(f"A case cannot go from {from_status} to {status}.")
    if status == CaseStatus.PAID:
        raise ValueError("A case is paid by posting its payment (payment_post).")
    with transaction.atomic():
        moved = list(
            Case.objects.filter(pk__in=case_ids, status=from_status).select_for_update().order_by("pk").values_list("pk", flat=True)
        )
        if not moved:
            return []
        Case.objects.filter(pk__in=moved).update(
            status=status, closed_at=now if status in CLOSING_STATUSES else None, version=F("version") + 1, updated_at=now,
        )
        AuditLog.objects.bulk_create([
            AuditLog(at=now, actor=actor if getattr(actor, "pk", None) else None, action=action, object_type="cases.case",
                     object_id=str(pk), case_id=pk, before={"status": from_status}, after={"status": status})
            for pk in moved
        ])
    return moved


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
        next_action_note=reasons.reason("first_contact"),
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


def case_assign(
    *, actor: User, case_id: int, agent: User | None, expected_version: int | None = None, now: dt.datetime | None = None
) -> Case:
    if agent is not None and (agent.role != Role.AGENT or not agent.is_active):
        raise ValidationError({"agent": _("Cases can only be assigned to active agents.")})
    now = now or timezone.now()
    with transaction.atomic():
        case = case_lock(case_id=case_id, expected_version=expected_version)
        if case.assigned_agent_id == (agent.pk if agent else None):
            return case
        case_change(case, actor=actor, action="case.assigned", now=now, assigned_agent_id=agent.pk if agent else None)
        case_replan(case=case, actor=actor, now=now)
    return case


def case_set_status(
    *, actor: User | None, case_id: int, status: str, expected_version: int | None = None, now: dt.datetime | None = None
) -> Case:
    now = now or timezone.now()
    with transaction.atomic():
        case = case_lock(case_id=case_id, expected_version=expected_version)
        if case.status == status:
            return case
        case_change(case, actor=actor, action="case.status_changed", now=now, status=status)
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
    # A person's own words for the why and the next step.
    changes = {k: reasons.text(v.strip()) if k in ("objective_reason", "next_action_note") and isinstance(v, str) else v
               for k, v in changes.items()}
    now = now or timezone.now()
    with transaction.atomic():
        case = case_lock(case_id=case_id, expected_version=expected_version)
        if not case.is_open:
            raise ValidationError(_("This case is closed."))
        case_change(case, actor=actor, action="case.updated", now=now, clean=True, **changes)
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
        case = case_lock(case_id=case_id, expected_version=expected_version)
        if not case.is_open:
            raise ValidationError(_("This case is closed."))
        if amount > case.balance:
            raise ValidationError({"amount": _("The promise (%(amount)s) is larger than the balance (%(balance)s).") % {
                "amount": format_money(amount, case.currency), "balance": format_money(case.balance, case.currency)}})
        promise = PromiseToPay.objects.create(
            case=case, amount=amount, due_date=due_date, method=method, created_by=actor,
            contact_attempt=contact_attempt, created_at=now,
        )
        audit_record(actor=actor, action="promise.recorded", obj=promise, after=snapshot(promise), at=now)
        promised = CaseStatus.PROMISED if case.status in (CaseStatus.NEW, CaseStatus.ACTIVE) else None
        case_change(case, actor=actor, action="case.promise_recorded", now=now, status=promised)
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
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Payment:
    """Post a payment: lower the balance, settle promises and instalments, close at zero."""
    now = now or timezone.now()
    if amount is None or amount <= 0:
        raise ValidationError({"amount": _("The amount must be greater than zero.")})
    if received_on > timezone.localdate(now):
        raise ValidationError({"received_on": _("A payment cannot be received in the future.")})
    with transaction.atomic():
        case = case_lock(case_id=case_id)
        # Checked after taking the case lock: a concurrent post with the same key on the same
        # case has committed by then, and each statement sees the latest committed rows.
        if idempotency_key:
            existing = Payment.objects.filter(idempotency_key=idempotency_key).first()
            if existing:
                return existing
        if expected_version is not None and case.version != expected_version:
            raise StaleVersionError()
        if case.status == CaseStatus.CLOSED:
            raise ValidationError(_("This case is closed."))
        if amount > case.balance:
            raise ValidationError({"amount": _("The payment (%(amount)s) is larger than the balance (%(balance)s).") % {
                "amount": format_money(amount, case.currency), "balance": format_money(case.balance, case.currency)}})
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
        balance = case.balance - amount
        status = None
        if balance == ZERO:
            status = CaseStatus.PAID
            case.plans.filter(status=PlanStatus.ACTIVE).update(status=PlanStatus.COMPLETED)
        elif case.status == CaseStatus.NEW:
            status = CaseStatus.ACTIVE
        case_change(case, actor=actor, action="case.payment_posted", now=now, status=status, balance=balance, last_outcome="payment")
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


def barrier_open(
    *,
    actor: User | None,
    case_id: int,
    kind: str,
    description: str = "",
    expected_version: int | None = None,
    now: dt.datetime | None = None,
    replan: bool = True,
) -> Barrier:
    """Open a payment barrier. ``replan=False``: the caller (logging the excuse that opened it)
    replans the case itself once its own change is written."""
    now = now or timezone.now()
    with transaction.atomic():
        case = case_lock(case_id=case_id, expected_version=expected_version)
        barrier = Barrier(case=case, kind=kind, description=description, opened_by=actor, opened_at=now)
        barrier.full_clean()
        barrier.save()
        audit_record(actor=actor, action="barrier.opened", obj=barrier, after=snapshot(barrier), at=now)
        if replan:
            case_replan(case=case, actor=actor, now=now)
    return barrier


def barrier_remove(
    *, actor: User | None, barrier_id: int, case_id: int | None = None, expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Barrier:
    """Mark a barrier removed. With ``case_id`` the barrier must belong to that case (a page
    acting on one case never touches another's)."""
    now = now or timezone.now()
    with transaction.atomic():
        if case_id is not None:
            case_lock(case_id=case_id, expected_version=expected_version)
        barrier = Barrier.objects.select_for_update().filter(pk=barrier_id, **({"case_id": case_id} if case_id else {})).first()
        if barrier is None:
            raise ValidationError(_("This barrier does not exist."))
        if barrier.status != BarrierStatus.OPEN:
            raise ValidationError(_("This barrier was already removed."))
        barrier.status = BarrierStatus.REMOVED
        barrier.removed_by = actor
        barrier.removed_at = now
        barrier.save(update_fields=["status", "removed_by", "removed_at"])
        audit_record(actor=actor, action="barrier.removed", obj=barrier, before={"status": "open"}, after={"status": "removed"}, at=now)
        case_replan(case=Case.objects.get(pk=barrier.case_id), actor=actor, now=now)
    return barrier


def commitments_postpone(*, days_by_case: dict[int, int], actor_id: int | None, now: dt.datetime) -> int:
    """Move the pending promises and the unpaid instalments of the active plans of these cases
    (locked by the caller) later by their number of days: the engine calls it when a pause lifts,
    so that nothing is broken for the time a case was held. One audit row per moved commitment;
    returns how many moved."""
    audit, moved = [], 0
    for case_id, days in days_by_case.items():
        delta = dt.timedelta(days=days)
        for model, qs in (
            (PromiseToPay, PromiseToPay.objects.filter(case_id=case_id, status=PromiseStatus.PENDING)),
            (Instalment, Instalment.objects.filter(plan__case_id=case_id, plan__status=PlanStatus.ACTIVE,
                                                   status__in=[InstalmentStatus.PENDING, InstalmentStatus.PARTIAL])),
        ):
            for pk, due in qs.values_list("pk", "due_date"):
                model.objects.filter(pk=pk).update(due_date=due + delta)
                audit.append(AuditLog(at=now, actor_id=actor_id, action=f"{model._meta.model_name}.postponed_by_pause",
                                      object_type=model._meta.label_lower, object_id=str(pk), case_id=case_id,
                                      before={"due_date": due.isoformat()}, after={"due_date": (due + delta).isoformat(), "days": days}))
                moved += 1
    AuditLog.objects.bulk_create(audit)
    return moved


def case_replan(*, case: Case, actor: User | None, now: dt.datetime):
    """Decide the case's next step after any event, inside the caller's transaction: the engine
    above this layer (it answers cases.hooks.plan_cases) chooses the objective by the strategy
    rules, cancels follow-ups that no longer fit, schedules the next one within the contact policy
    and writes ``objective``, ``objective_reason``, ``next_action_at`` and ``next_action_note``;
    the caller's in-memory case is brought in step with them. Returns the engine's plan."""
    plans = hooks.plan_cases(case_ids=[case.pk], now=now, actor=actor)
    row = Case.objects.filter(pk=case.pk).values(*PLAN_FIELDS).first()
    for name, value in (row or {}).items():
        setattr(case, name, value)
    return plans.get(case.pk)


PLAN_FIELDS = ("objective", "objective_reason", "next_action_at", "next_action_note")


# --- Payment plans ----------------------------------------------------------------------------

PLAN_MAX_INSTALMENTS = 60
PLAN_REASON_MAX_LENGTH = 500  # the reject/cancel form's maxlength and the API's max_length


def plan_schedule(*, total: Decimal, count: int, frequency: str, first_date: dt.date) -> list[tuple[int, dt.date, Decimal]]:
    """The instalments (number, due date, amount) that split ``total`` into ``count`` equal
    parts; the cents that do not divide evenly go to the last one so the sum is exact. Pure."""
    if count < 1:
        raise ValueError("count must be at least 1")
    base = (total / count).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    rows = []
    for i in range(count):
        if frequency == PlanFrequency.MONTHLY:
            due = add_months(first_date, i)
        else:
            due = first_date + dt.timedelta(weeks=i * (2 if frequency == PlanFrequency.BIWEEKLY else 1))
        amount = total - base * (count - 1) if i == count - 1 else base
        rows.append((i + 1, due, amount))
    return rows


def plan_create(
    *,
    actor: User | None,
    case_id: int,
    total_amount: Decimal,
    frequency: str,
    instalments: list[tuple[dt.date, Decimal]],
    agreed: bool = True,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> PaymentPlan:
    """Record a payment plan: proposed to the debtor, or already agreed (then it is live and the
    case moves to "payment plan"). The instalments must add up to the total and be in order."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    errors: dict[str, str] = {}
    if total_amount is None or total_amount <= 0:
        errors["total_amount"] = _("The amount must be greater than zero.")
    if not instalments:
        errors["instalments"] = _("A plan needs at least one instalment.")
    elif len(instalments) > PLAN_MAX_INSTALMENTS:
        errors["instalments"] = _("A plan has at most %(n)d instalments.") % {"n": PLAN_MAX_INSTALMENTS}
    else:
        dates = [d for d, _a in instalments]
        if any(a is None or a <= 0 for _d, a in instalments):
            errors["instalments"] = _("Every instalment must be greater than zero.")
        elif total_amount and sum(a for _d, a in instalments) != total_amount:
            # Said before the case is read, so without its currency: the amounts alone, as money.
            errors["instalments"] = _("The instalments add up to %(sum)s, not to the plan's total of %(total)s.") % {
                "sum": format_amount(sum(a for _d, a in instalments)), "total": format_amount(total_amount)}
        elif dates[0] < today:
            errors["instalments"] = _("The first instalment cannot be dated in the past.")
        elif any(b <= a for a, b in zip(dates, dates[1:], strict=False)):
            errors["instalments"] = _("Instalment dates must follow one another.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        case = case_lock(case_id=case_id, expected_version=expected_version)
        if not case.is_open:
            raise ValidationError(_("This case is closed."))
        if total_amount > case.balance:
            raise ValidationError({"total_amount": _("The plan (%(amount)s) is larger than the balance (%(balance)s).") % {
                "amount": format_money(total_amount, case.currency), "balance": format_money(case.balance, case.currency)}})
        if case.plans.filter(status__in=[PlanStatus.PROPOSED, PlanStatus.ACTIVE]).exists():
            raise ValidationError(_("This case already has a live payment plan."))
        beyond_guardrails = _plan_beyond_guardrails(case, total_amount, frequency, instalments, today)
        if beyond_guardrails and agreed and getattr(actor, "role", None) == Role.AGENT:
            # An agent may propose it, but only a supervisor (or admin) may agree it.
            raise ValidationError({"instalments": [_("This plan needs a supervisor's approval."), *beyond_guardrails]})
        plan = PaymentPlan.objects.create(
            case=case, status=PlanStatus.ACTIVE if agreed else PlanStatus.PROPOSED, total_amount=total_amount,
            instalment_count=len(instalments), frequency=frequency, first_due_date=instalments[0][0],
            created_by=actor, approved_by=actor if beyond_guardrails and agreed else None, created_at=now,
        )
        Instalment.objects.bulk_create(
            Instalment(plan=plan, number=n, due_date=d, amount=a) for n, (d, a) in enumerate(instalments, start=1)
        )
        after = snapshot(plan, ["status", "total_amount", "instalment_count", "frequency", "first_due_date"])
        audit_record(actor=actor, action="plan.created" if agreed else "plan.proposed", obj=plan, after=after, at=now)
        to_plan = agreed and case.status in (CaseStatus.NEW, CaseStatus.ACTIVE, CaseStatus.PROMISED)
        case_change(case, actor=actor, action="case.plan_recorded", now=now, status=CaseStatus.PLAN if to_plan else None)
        case_replan(case=case, actor=actor, now=now)
    return plan


def _lock_plan(plan_id: int, expected_version: int | None) -> tuple[Case, PaymentPlan]:
    """Lock the plan's case (as every case change does), then the plan."""
    case_id = PaymentPlan.objects.filter(pk=plan_id).values_list("case_id", flat=True).first()
    if case_id is None:
        raise ValidationError(_("This payment plan does not exist."))
    return case_lock(case_id=case_id, expected_version=expected_version), PaymentPlan.objects.select_for_update().get(pk=plan_id)


def plan_agree(*, actor: User | None, plan_id: int, expected_version: int | None = None,
               now: dt.datetime | None = None) -> PaymentPlan:
    """The debtor agreed a proposed plan: it becomes live and the case moves to "payment plan".
    A plan beyond the admins' guardrails needs a supervisor or admin: an agent is refused, and
    the approver is recorded."""
    now = now or timezone.now()
    with transaction.atomic():
        case, plan = _lock_plan(plan_id, expected_version)
        if plan.status != PlanStatus.PROPOSED:
            raise ValidationError(_("Only a proposed plan can be agreed; this one is %(status)s.") % {"status": plan.get_status_display()})
        if not case.is_open:
            raise ValidationError(_("This case is closed."))
        # Checked now, under the case lock: a payment may have arrived since the proposal.
        _check_plan_fits_balance(case, plan)
        instalments = list(plan.instalments.order_by("number").values_list("due_date", "amount"))
        # The audit trail reads the same whoever approved: the reasons in the installation's language.
        with translation.override(settings.LANGUAGE_CODE):
            beyond = _plan_beyond_guardrails(case, plan.total_amount, plan.frequency, instalments, timezone.localdate(now))
        if beyond and not user_may_approve_plans(user=actor):
            # Refused: the agent reads why in their own language.
            reasons = _plan_beyond_guardrails(case, plan.total_amount, plan.frequency, instalments, timezone.localdate(now))
            raise ValidationError([_("This plan needs a supervisor's approval."), *reasons])
        plan.status = PlanStatus.ACTIVE
        plan.approved_by = actor if beyond and getattr(actor, "pk", None) else None
        plan.save(update_fields=["status", "approved_by"])
        audit_record(actor=actor, action="plan.approved" if beyond else "plan.agreed", obj=plan,
                     before={"status": PlanStatus.PROPOSED}, after={"status": PlanStatus.ACTIVE, "beyond_guardrails": beyond}, at=now)
        to_plan = case.status in (CaseStatus.NEW, CaseStatus.ACTIVE, CaseStatus.PROMISED)
        case_change(case, actor=actor, action="case.plan_recorded", now=now, status=CaseStatus.PLAN if to_plan else None)
        case_replan(case=case, actor=actor, now=now)
    return plan


def _check_plan_fits_balance(case: Case, plan: PaymentPlan) -> None:
    """A proposal larger than what the debtor owes now cannot go live: it is adjusted to the
    balance (plan_adjust_to_balance) or rejected."""
    if plan.total_amount > case.balance:
        raise ValidationError({"total_amount": ValidationError(
            _("The plan's total (%(total)s) is larger than the case's balance now (%(balance)s) by %(excess)s: a payment "
              "arrived after it was proposed. Adjust the plan to the balance or reject it.") % {
                "total": format_money(plan.total_amount, case.currency), "balance": format_money(case.balance, case.currency),
                "excess": format_money(plan.total_amount - case.balance, case.currency)},
            code="plan_exceeds_balance",
        )})


def plan_adjust_to_balance(*, actor: User | None, plan_id: int, expected_version: int | None = None,
                           now: dt.datetime | None = None) -> PaymentPlan:
    """Shrink a proposed plan that no longer fits the case's balance (a payment arrived after it
    was proposed) to that balance: the same dates and frequency, the instalments split again
    (plan_schedule). It stays proposed: agreeing it checks the guardrails again."""
    now = now or timezone.now()
    with transaction.atomic():
        case, plan = _lock_plan(plan_id, expected_version)
        if plan.status != PlanStatus.PROPOSED:
            raise ValidationError(_("Only a proposed plan can be adjusted; this one is %(status)s.") % {"status": plan.get_status_display()})
        if not case.is_open or case.balance <= 0:
            raise ValidationError(_("This case is closed."))
        if plan.total_amount <= case.balance:
            raise ValidationError({"total_amount": _("The plan already fits the balance (%(balance)s).") % {
                "balance": format_money(case.balance, case.currency)}})
        dates = list(plan.instalments.order_by("number").values_list("due_date", flat=True))
        # Never an instalment of less than a cent: a tiny balance keeps as many dates as it can fill.
        count = max(1, min(len(dates), int(case.balance * 100)))
        rows = plan_schedule(total=case.balance, count=count, frequency=plan.frequency, first_date=dates[0])
        before = snapshot(plan, ["total_amount", "instalment_count"])
        plan.instalments.all().delete()
        Instalment.objects.bulk_create(
            Instalment(plan=plan, number=number, due_date=dates[number - 1], amount=amount) for number, _due, amount in rows
        )
        plan.total_amount, plan.instalment_count = case.balance, count
        plan.save(update_fields=["total_amount", "instalment_count"])
        audit_record(actor=actor, action="plan.adjusted", obj=plan, before=before,
                     after=snapshot(plan, ["total_amount", "instalment_count"]), at=now)
        case_change(case, actor=actor, action="case.plan_adjusted", now=now)
    return plan


def plan_cancel(*, actor: User | None, plan_id: int, reason: str, expected_version: int | None = None,
                now: dt.datetime | None = None) -> PaymentPlan:
    """Withdraw a proposed plan (rejected by the supervisor or the debtor) or cancel a live one.
    Payments already made stay; the case goes back to active and is re-planned."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the plan is cancelled.")})
    if len(reason) > PLAN_REASON_MAX_LENGTH:
        # Refused, never cut: the person sees what did not fit before anything is saved.
        raise ValidationError({"reason": _("The reason is limited to %(n)d characters (it has %(len)d).") % {
            "n": PLAN_REASON_MAX_LENGTH, "len": len(reason)}})
    with transaction.atomic():
        case, plan = _lock_plan(plan_id, expected_version)
        if plan.status not in (PlanStatus.PROPOSED, PlanStatus.ACTIVE):
            raise ValidationError(_("This plan is already %(status)s.") % {"status": plan.get_status_display()})
        old = plan.status
        plan.status = PlanStatus.CANCELLED
        plan.save(update_fields=["status"])
        audit_record(actor=actor, action="plan.cancelled", obj=plan, before={"status": old},
                     after={"status": PlanStatus.CANCELLED, "reason": reason}, at=now)
        case_change(case, actor=actor, action="case.plan_cancelled", now=now,
                    status=CaseStatus.ACTIVE if case.status == CaseStatus.PLAN else None)
        case_replan(case=case, actor=actor, now=now)
    return plan


def _plan_beyond_guardrails(case: Case, total_amount: Decimal, frequency: str, instalments, today: dt.date) -> list[str]:
    """Why the plan exceeds what an agent may grant alone (admin-edited guardrails). Plans made
    here forgive nothing (the balance stays owed), so only count, size and term are checked."""
    return plan_needs_approval(
        limits=Limits.from_model(PlanGuardrails.current()), balance=case.balance, total_amount=total_amount, currency=case.currency,
        discount_amount=ZERO, instalment_count=len(instalments), frequency=frequency,
        first_due_date=instalments[0][0], today=today,
    )


# --- The agent's workday ----------------------------------------------------------------------


def case_schedule_followup(
    *, actor: User | None, case_id: int, at: dt.datetime, note: str = "", expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Case:
    """Set the case's next step by hand. The agent's decision is the plan, so the engine is not
    asked to re-plan here (it would put its own cadence step back); the engine's sweeper only
    re-plans cases whose next action is missing or past, and the next event re-plans as usual."""
    now = now or timezone.now()
    if at < now - dt.timedelta(minutes=5):
        raise ValidationError({"at": _("The next step must be in the future.")})
    with transaction.atomic():
        case = case_lock(case_id=case_id, expected_version=expected_version)
        if not case.is_open:
            raise ValidationError(_("This case is closed."))
        case_change(case, actor=actor, action="case.followup_scheduled", now=now, next_action_at=at,
                    next_action_note=reasons.text(note.strip()) or reasons.reason("scheduled_by_agent"))
    return case


class ContactRestriction:
    CEASE = "cease"
    DO_NOT_CONTACT = "do_not_contact"
    POINT_DO_NOT_CONTACT = "point_do_not_contact"


def case_restrict_contact(
    *, actor: User | None, case_id: int, restriction: str, contact_point_id: int | None = None,
    expected_version: int | None = None, now: dt.datetime | None = None,
) -> Case:
    """Record, from a case, that the debtor asked us to stop (cease communication), must not be
    contacted, or that one contact point must not be used. The debtor-level row is written by the
    debtor services; this adds the case's own audit row so the timeline shows who did it."""
    from debtors.services import contact_point_set_flags, debtor_set_flags

    now = now or timezone.now()
    with transaction.atomic():
        case = case_lock(case_id=case_id, expected_version=expected_version)
        if restriction == ContactRestriction.POINT_DO_NOT_CONTACT:
            if contact_point_id is None or not case.debtor.contact_points.filter(pk=contact_point_id).exists():
                raise ValidationError({"contact_point": _("Choose one of this debtor's contact points.")})
            contact_point_set_flags(actor=actor, contact_point_id=contact_point_id, do_not_contact=True, now=now)
            detail = {"contact_point_id": contact_point_id, "do_not_contact": True}
        elif restriction in (ContactRestriction.CEASE, ContactRestriction.DO_NOT_CONTACT):
            flag = "cease_communication" if restriction == ContactRestriction.CEASE else "do_not_contact"
            debtor_set_flags(actor=actor, debtor_id=case.debtor_id, now=now, **{flag: True})
            detail = {flag: True}
        else:
            raise ValidationError({"restriction": _("Unknown restriction.")})
        audit_record(actor=actor, action="case.contact_restricted", obj=case, after=detail, at=now)
        # No case field changes, but the contact picture did: forms opened before are stale.
        case_change(case, actor=actor, action="case.contact_restricted", now=now)
        case_replan(case=case, actor=actor, now=now)
    return case


def case_take_next(*, agent: User, now: dt.datetime | None = None, candidates: int = 5) -> Case | None:
    """Hand ``agent`` the next case to work: their own most urgent due case, else one unassigned
    workable case from the pool, claimed for them. Agents clicking "Next case" at the same moment
    never get the same pooled case, on either database: the claim is conditional — the case is
    assigned only if, under its lock, it is still unassigned and its version is still the one
    read with it (any change of the case bumps it), else the next candidate is tried. On
    PostgreSQL rows another transaction holds are skipped (SKIP LOCKED), so takes rarely collide;
    SQLite cannot lock rows, but its IMMEDIATE transactions (settings) run the takes one after the
    other, and the check under the lock holds even if a take ever read before another committed."""
    from .selectors import queue_order

    now = now or timezone.now()
    with transaction.atomic():
        own = (
            Case.objects.filter(assigned_agent=agent, status__in=CaseStatus.workable_values(), next_action_at__lte=now)
            .order_by(*queue_order(now=now))
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if own is not None:
            return own
        pool = Case.objects.filter(assigned_agent__isnull=True, status__in=CaseStatus.workable_values()).order_by(*queue_order(now=now))
        tried: list[int] = []
        for _attempt in range(candidates):
            # One row at a time: locking several would make the others' takes skip them all.
            row = pool.exclude(pk__in=tried).select_for_update(skip_locked=True, of=("self",)).values_list("pk", "version").first()
            if row is None:
                return None
            case_id, version = row
            tried.append(case_id)
            case = case_lock(case_id=case_id)
            if case.version != version or case.assigned_agent_id is not None or case.status not in CaseStatus.workable_values():
                continue  # taken (or changed) since it was read: the next one
            return case_assign(actor=agent, case_id=case_id, agent=agent, expected_version=version, now=now)
    return None


def debtor_open_cases_replan(*, debtor_id: int, now: dt.datetime, actor=None) -> int:
    """Re-plan every open case of the debtor in the caller's transaction (answers
    debtors.hooks.debtor_cases_replan). Returns how many cases."""
    case_ids = list(
        Case.objects.filter(debtor_id=debtor_id, status__in=CaseStatus.open_values()).order_by("pk").values_list("pk", flat=True)
    )
    if case_ids:
        hooks.plan_cases(case_ids=case_ids, now=now, actor=actor)
    return len(case_ids)
