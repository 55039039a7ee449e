"""Data protection: the export of everything held about a debtor (right of access) and the
erasure of their personal data once its retention has passed (with its sweeper)."""

from __future__ import annotations

import datetime as dt
import functools

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from cases.models import Barrier, Case, Payment
from collections_crm.audit.services import audit_record
from collections_crm.selfservice.models import Checkout, PortalUpload
from contacts.models import ContactAttempt, FollowUp, OutboundMessage
from debtors.models import ContactPoint, Debtor
from debtors.services import debtor_zones_refresh

from .selectors import debtor_erasability, debtor_export_document, debtors_due_for_erasure

# The export and the erasure reach the debtor's records in every domain app (debtors, cases,
# contacts): this app sits above them. The audit log is append-only and is not rewritten (nor is
# its trigger bypassed): its rows hold ids, codes, amounts and dates, not the debtor's name, document or
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


def debtor_export(*, actor, debtor_id: int, now: dt.datetime | None = None) -> dict:
    """Everything held about the debtor as one JSON-safe document, and the audit row that says
    who took it (counts only)."""
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
    subjects and bodies, why an online payment failed) are replaced by placeholders, and the files
    they sent on the portal are deleted (after commit). Amounts, dates, statuses, codes and ids
    stay, so the portfolio figures do not move. Returns the counts, or None when the debtor was
    already anonymised (safe to run twice). Raises DebtorNotErasable otherwise."""
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
            "cases": Case.objects.filter(pk__in=case_ids).update(next_action_note={}),
            "contact_attempts": ContactAttempt.objects.filter(case_id__in=case_ids).update(notes="", next_step=""),
            "messages": OutboundMessage.objects.filter(case_id__in=case_ids).update(
                recipient=ANONYMISED_TEXT, subject="", body=ANONYMISED_TEXT, error=""),
            "barriers": Barrier.objects.filter(case_id__in=case_ids).update(description=""),
            "payments": Payment.objects.filter(case_id__in=case_ids).update(reference=""),
            "follow_ups": FollowUp.objects.filter(case_id__in=case_ids).update(result=""),
            "online_payments": Checkout.objects.filter(case_id__in=case_ids).update(failure_reason=""),
        }
        uploads = list(PortalUpload.objects.filter(case_id__in=case_ids))
        counts["portal_uploads"] = len(uploads)
        PortalUpload.objects.filter(pk__in=[u.pk for u in uploads]).delete()
        # The files go once the rows are gone for good (a rollback keeps both).
        for upload in uploads:
            transaction.on_commit(functools.partial(upload.file.storage.delete, upload.file.name))
        Debtor.objects.filter(pk=debtor_id).update(
            name=ANONYMISED_NAME, document_type="other", document_number=f"ANON{debtor_id}", notes="",
            legal_hold_reason="", postal_code="", birth_date=None, anonymised_at=now, updated_at=now,
        )
        # The phones are placeholders now: only the recorded zone is left of where they were.
        debtor_zones_refresh(debtor_ids=[debtor_id])
        audit_record(actor=actor, action="debtor.anonymised", obj=debtor, at=now, after=counts)
    return counts


def debtors_anonymise_expired(*, now: dt.datetime, limit: int = ANONYMISE_PER_RUN, dry_run: bool = False) -> dict[str, int]:
    """The sweeper: anonymise, one transaction each, the debtors whose retention has passed, in
    batches by id. Safe to run twice or at once: each debtor is locked and checked again by
    debtor_anonymise, and one already done is skipped. ``dry_run`` only counts them."""
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
