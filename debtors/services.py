from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_crm.audit.services import audit_record, audited_save, snapshot

from .models import DEBTOR_FLAGS, ContactPoint, Debtor


def debtor_create(*, actor, contact_points: list[dict] | None = None, now: dt.datetime | None = None, **fields) -> Debtor:
    now = now or timezone.now()
    debtor = Debtor(**fields)
    debtor.full_clean()
    with transaction.atomic():
        debtor.save()
        audit_record(actor=actor, action="debtor.created", obj=debtor, after=snapshot(debtor, ["kind", "country", "timezone", "language", *DEBTOR_FLAGS]), at=now)
        for cp in contact_points or []:
            contact_point_add(actor=actor, debtor=debtor, now=now, **cp)
    return debtor


def debtor_get_or_create(
    *, actor, document_type: str, document_number: str, contact_points: list[dict] | None = None,
    now: dt.datetime | None = None, **defaults,
) -> tuple[Debtor, bool]:
    """The debtor with this identity document, created with ``defaults`` if new. An existing
    debtor keeps its details (agents may have corrected them); new contact points are added."""
    from .validators import normalise_contact_value, normalise_document

    now = now or timezone.now()
    number = normalise_document(document_number)
    with transaction.atomic():
        debtor = Debtor.objects.filter(document_type=document_type, document_number=number).first()
        if debtor is None:
            return debtor_create(actor=actor, document_type=document_type, document_number=number,
                                 contact_points=contact_points, now=now, **defaults), True
        known = set(debtor.contact_points.values_list("kind", "value"))
        for cp in contact_points or []:
            if (cp["kind"], normalise_contact_value(cp["kind"], cp["value"], country=debtor.country)) not in known:
                contact_point_add(actor=actor, debtor=debtor, now=now, **cp)
    return debtor, False


def contact_point_add(*, actor, debtor: Debtor, kind: str, value: str, now: dt.datetime | None = None, **fields) -> ContactPoint:
    now = now or timezone.now()
    point = ContactPoint(debtor=debtor, kind=kind, value=value, **fields)
    point.full_clean()
    with transaction.atomic():
        point.save()
        audit_record(actor=actor, action="contact_point.added", obj=point, after=snapshot(point, ["kind", "verified", "consent", "opted_out", "do_not_contact"]), case_id=None, at=now)
    return point


def debtor_set_flags(*, actor, debtor_id: int, now: dt.datetime | None = None, **flags: bool) -> Debtor:
    """Set do-not-contact, cease-communication and the other flags that stop contact."""
    unknown = set(flags) - set(DEBTOR_FLAGS)
    if unknown:
        raise ValueError(f"Unknown debtor flags: {sorted(unknown)}")
    now = now or timezone.now()
    with transaction.atomic():
        debtor = Debtor.objects.select_for_update().get(pk=debtor_id)
        # Saved even when no flag moves: updated_at moves on every call.
        _b, a = audited_save(obj=debtor, changes={k: bool(v) for k, v in flags.items()}, fields=list(flags), actor=actor,
                             action="debtor.flags_changed", at=now, clean=False, save_unchanged=True)
        if a:
            debtor_cases_replan(actor=actor, debtor_id=debtor.pk, now=now)
    return debtor


# Debtor fields the follow-up engine and the contact policy read: a change replans the cases.
PLANNING_FIELDS = {*DEBTOR_FLAGS, "timezone", "country"}


def debtor_cases_replan(*, actor, debtor_id: int, now: dt.datetime) -> int:
    """Replan the debtor's open cases at once, in the caller's transaction (the flag and the
    plans commit together): a cease-communication or deceased flag cancels the scheduled
    contacts of every case of the debtor now, not at the next sweep, and lifting it schedules
    the next steps again. Same write path as every other replan (followups_plan)."""
    from cases.choices import CaseStatus
    from cases.models import Case
    from contacts.services_followup import followups_plan

    case_ids = list(
        Case.objects.filter(debtor_id=debtor_id, status__in=CaseStatus.open_values()).order_by("pk").values_list("pk", flat=True)
    )
    if case_ids:
        followups_plan(case_ids=case_ids, now=now, actor=actor)
    return len(case_ids)


def contact_point_set_flags(*, actor, contact_point_id: int, now: dt.datetime | None = None, **flags: bool) -> ContactPoint:
    allowed = {"verified", "consent", "opted_out", "do_not_contact", "is_primary"}
    if set(flags) - allowed:
        raise ValueError(f"Unknown contact point flags: {sorted(set(flags) - allowed)}")
    now = now or timezone.now()
    with transaction.atomic():
        point = ContactPoint.objects.select_for_update().get(pk=contact_point_id)
        audited_save(obj=point, changes={k: bool(v) for k, v in flags.items()}, fields=sorted(flags), actor=actor,
                     action="contact_point.flags_changed", at=now, clean=False)
    return point


class DebtorStaleError(ValidationError):
    """The debtor changed since it was read; the caller must reload."""

    def __init__(self):
        super().__init__(_("Someone else changed this debtor meanwhile. Reload and try again."), code="stale")


DEBTOR_EDITABLE = ["name", "kind", "country", "timezone", "language", "notes", *DEBTOR_FLAGS]
# Values of these fields are personal data: the audit row says that they changed, not to what.
DEBTOR_PRIVATE = {"name", "notes"}


def debtor_update(
    *, actor, debtor_id: int, changes: dict, expected_updated_at: dt.datetime | None = None, now: dt.datetime | None = None
) -> Debtor:
    """Edit a debtor's details and contact flags. ``expected_updated_at`` refuses a write based
    on an older read."""
    unknown = set(changes) - set(DEBTOR_EDITABLE)
    if unknown:
        raise ValueError(f"Not editable here: {sorted(unknown)}")
    now = now or timezone.now()
    with transaction.atomic():
        debtor = Debtor.objects.select_for_update().get(pk=debtor_id)
        if expected_updated_at is not None and debtor.updated_at != expected_updated_at:
            raise DebtorStaleError()
        _b, a = audited_save(obj=debtor, changes=changes, fields=DEBTOR_EDITABLE, actor=actor, action="debtor.updated", at=now,
                             validate_unique=False, private=DEBTOR_PRIVATE)
        if PLANNING_FIELDS & set(a):
            debtor_cases_replan(actor=actor, debtor_id=debtor.pk, now=now)
    return debtor


# --- Data protection: legal hold, export, anonymisation ------------------------------------------
#
# The export and the erasure reach the debtor's records in the layers above (cases, contacts):
# they are imported inside the functions, as in debtor_cases_replan, since the debtor's personal
# data lives there too. The audit log is append-only and is not rewritten (nor is its trigger
# bypassed): its rows hold ids, codes, amounts and dates, not the debtor's name, document or
# contact values (debtor_update masks name and notes; contact points are audited without their
# value), and the erasure adds its own row with counts. Free text some services copy into their
# rows stays there: a case's next step, a barrier's description, a payment's reference, a
# follow-up's result, a legal hold's reason. See the README's "Data protection" section.

# Placeholders written over personal data. Language-neutral: they are data, not interface text.
ANONYMISED_NAME = "[anonymised]"
ANONYMISED_TEXT = "[anonymised]"
# Debtors anonymised per sweeper run, well inside the task time limit (about 10 statements each);
# a backlog is worked off by the next runs.
ANONYMISE_PER_RUN = 2000
SWEEP_BATCH = 200


class DebtorNotErasable(ValidationError):
    """The debtor may not be anonymised now (open cases, a legal hold, retention not passed)."""

    def __init__(self, decision):
        self.decision = decision
        super().__init__(decision.message, code=decision.state)


def debtor_set_legal_hold(*, actor, debtor_id: int, hold: bool, reason: str = "", now: dt.datetime | None = None) -> Debtor:
    """Set or lift the legal hold that keeps a debtor's data past its retention. The reason (a
    reference such as a court file number) is kept in the audit row: it is why erasure waited."""
    now = now or timezone.now()
    reason = reason.strip()
    if hold and not reason:
        raise ValidationError({"reason": _("Say why the data must be kept (e.g. a court file number).")})
    with transaction.atomic():
        debtor = Debtor.objects.select_for_update().get(pk=debtor_id)
        if debtor.anonymised_at is not None:
            raise ValidationError(_("This debtor's personal data was anonymised; there is nothing left to hold."))
        audited_save(obj=debtor, changes={"legal_hold": hold, "legal_hold_reason": reason if hold else ""},
                     fields=["legal_hold", "legal_hold_reason"], actor=actor,
                     action="debtor.legal_hold_set" if hold else "debtor.legal_hold_lifted", at=now, clean=False)
    return debtor


def debtor_export(*, actor, debtor_id: int, now: dt.datetime | None = None) -> dict:
    """Everything held about the debtor as one JSON-safe document, and the audit row that says
    who took it (counts only)."""
    from .selectors import debtor_export_document

    now = now or timezone.now()
    with transaction.atomic():
        document = debtor_export_document(debtor_id=debtor_id, now=now)
        # The audit row needs only the debtor's type and id.
        audit_record(actor=actor, action="debtor.exported", obj=Debtor(pk=debtor_id), at=now, after={
            "format_version": document["version"], "cases": len(document["cases"]),
            "contact_points": len(document["contact_points"]), "audit_rows": len(document["audit_log"]),
        })
    return document


def debtor_anonymise(*, actor, debtor_id: int, now: dt.datetime) -> dict[str, int] | None:
    """Erase the debtor's personal data once their retention has passed: names, identity
    document, contact values, notes and every free text of their cases (contact notes and next
    steps, barrier descriptions, payment references, follow-up results, message recipients,
    subjects and bodies) are replaced by placeholders. Amounts, dates, statuses, codes and ids
    stay, so the portfolio figures do not move. Returns the counts, or None when the debtor was
    already anonymised (safe to run twice). Raises DebtorNotErasable otherwise."""
    from django.db.models import CharField, Value
    from django.db.models.functions import Cast, Concat

    from cases.models import Barrier, Case, Payment
    from contacts.models import ContactAttempt, FollowUp, OutboundMessage

    from .selectors import debtor_erasability

    with transaction.atomic():
        # Cases first, then the debtor: the case services lock in that order (case_restrict_contact).
        # The debtor's lock also holds back a new case for them (its insert needs a key-share lock).
        list(Case.objects.select_for_update().filter(debtor_id=debtor_id).order_by("pk").values_list("pk", flat=True))
        debtor = Debtor.objects.select_for_update().get(pk=debtor_id)
        if debtor.anonymised_at is not None:
            return None
        decision = debtor_erasability(debtor=debtor, now=now)
        if not decision.erasable:
            raise DebtorNotErasable(decision)
        case_ids = list(Case.objects.filter(debtor_id=debtor_id).values_list("pk", flat=True))
        placeholder = Concat(Value("anonymised-"), Cast("pk", CharField()))
        counts = {
            # Values stay unique per debtor and kind; no message may go to them again.
            "contact_points": ContactPoint.objects.filter(debtor_id=debtor_id).update(
                value=placeholder, label="", person_name="", do_not_contact=True),
            # Not updated_at: nothing the figures read changed.
            "cases": Case.objects.filter(pk__in=case_ids).update(next_action_note=""),
            "contact_attempts": ContactAttempt.objects.filter(case_id__in=case_ids).update(notes="", next_step=""),
            "messages": OutboundMessage.objects.filter(case_id__in=case_ids).update(
                recipient=ANONYMISED_TEXT, subject="", body=ANONYMISED_TEXT, error=""),
            "barriers": Barrier.objects.filter(case_id__in=case_ids).update(description=""),
            "payments": Payment.objects.filter(case_id__in=case_ids).update(reference=""),
            "follow_ups": FollowUp.objects.filter(case_id__in=case_ids).update(result=""),
        }
        Debtor.objects.filter(pk=debtor_id).update(
            name=ANONYMISED_NAME, document_type="other", document_number=f"ANON{debtor_id}", notes="",
            legal_hold_reason="", anonymised_at=now, updated_at=now,
        )
        audit_record(actor=actor, action="debtor.anonymised", obj=debtor, at=now, after=counts)
    return counts


def debtors_anonymise_expired(*, now: dt.datetime, limit: int = ANONYMISE_PER_RUN, dry_run: bool = False) -> dict[str, int]:
    """The sweeper: anonymise, one transaction each, the debtors whose retention has passed, in
    batches by id. Safe to run twice or at once: each debtor is locked and checked again by
    debtor_anonymise, and one already done is skipped. ``dry_run`` only counts them."""
    from .selectors import debtors_due_for_erasure

    summary = {"due": 0, "anonymised": 0, "skipped": 0}
    after_id = 0
    while summary["due"] < limit:
        ids = debtors_due_for_erasure(now=now, after_id=after_id, limit=min(SWEEP_BATCH, limit - summary["due"]))
        if not ids:
            break
        after_id = ids[-1]
        summary["due"] += len(ids)
        if dry_run:
            continue
        for debtor_id in ids:
            try:
                done = debtor_anonymise(actor=None, debtor_id=debtor_id, now=now)
            except DebtorNotErasable:  # a case reopened or a hold was set meanwhile
                done = None
            summary["anonymised" if done is not None else "skipped"] += 1
    return summary
