from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone as django_timezone
from django.utils.translation import gettext as _

from collections_crm.audit.services import audit_record, audited_save, snapshot

from . import hooks
from .models import DEBTOR_FLAGS, ContactPoint, ContactPointKind, Debtor, validate_timezone
from .zones import candidate_zones, zones_text


def debtor_create(*, actor, contact_points: list[dict] | None = None, now: dt.datetime | None = None, **fields) -> Debtor:
    now = now or django_timezone.now()
    identity_answers_check(postal_code=fields.get("postal_code"), birth_date=fields.get("birth_date"), today=django_timezone.localdate(now))
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

    now = now or django_timezone.now()
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
    now = now or django_timezone.now()
    point = ContactPoint(debtor=debtor, kind=kind, value=value, **fields)
    point.full_clean()
    with transaction.atomic():
        point.save()
        audit_record(actor=actor, action="contact_point.added", obj=point, after=snapshot(point, ["kind", "verified", "consent", "opted_out", "do_not_contact"]), case_id=None, at=now)
        if point.kind == ContactPointKind.PHONE:
            debtor_zones_refresh(debtor_ids=[debtor.pk])
    return point


def debtor_set_flags(*, actor, debtor_id: int, now: dt.datetime | None = None, **flags: bool) -> Debtor:
    """Set do-not-contact, cease-communication and the other flags that stop contact."""
    unknown = set(flags) - set(DEBTOR_FLAGS)
    if unknown:
        raise ValueError(f"Unknown debtor flags: {sorted(unknown)}")
    now = now or django_timezone.now()
    with transaction.atomic():
        debtor = Debtor.objects.select_for_update().get(pk=debtor_id)
        # Saved even when no flag moves: updated_at moves on every call.
        _b, a = audited_save(obj=debtor, changes={k: bool(v) for k, v in flags.items()}, fields=list(flags), actor=actor,
                             action="debtor.flags_changed", at=now, clean=False, save_unchanged=True)
        if a:
            debtor_cases_replan(actor=actor, debtor_id=debtor.pk, now=now)
    return debtor


# Debtor fields the follow-up engine and the contact policy read: a change replans the cases.
PLANNING_FIELDS = {*DEBTOR_FLAGS, "timezone", "country", "preferred_contact_time"}
# Debtors per round trip of debtor_zones_refresh.
ZONES_BATCH = 5_000


def debtor_zones_refresh(*, debtor_ids: Iterable[int]) -> int:
    """Work out again the candidate time zones of these debtors (debtors/zones.py: the zone,
    and every phone's zones until the zone is confirmed) and write the ones that changed, in
    the caller's transaction. Set-based: per batch of debtors one locking read, one read of
    their phones and one write. Every path that adds or changes phones or a debtor's zone calls
    it; being derived data, it writes no audit row (the change that caused it has its own).
    Returns how many debtors changed.

    The debtors are locked (FOR NO KEY UPDATE, which a contact point's insert does not wait
    for) before their phones are read, so that two transactions adding phones to one debtor
    at once cannot leave the zones of only one of them."""
    ids = sorted(set(debtor_ids))
    changed = 0
    for start in range(0, len(ids), ZONES_BATCH):
        batch = ids[start:start + ZONES_BATCH]
        debtors = list(Debtor.objects.select_for_update(no_key=True).filter(pk__in=batch).order_by("pk")
                       .values_list("pk", "timezone", "timezone_confirmed", "candidate_timezones"))
        phones: dict[int, list[str]] = defaultdict(list)
        for debtor_id, value in ContactPoint.objects.filter(debtor_id__in=batch, kind=ContactPointKind.PHONE, unusable_reason="").values_list("debtor_id", "value"):
            phones[debtor_id].append(value)
        updates = []
        for pk, zone, confirmed, stored in debtors:
            text = zones_text(candidate_zones(timezone=zone, confirmed=confirmed, phones=phones.get(pk, ())))
            if text != stored:
                updates.append((pk, text))
        _candidate_zones_write(updates)
        changed += len(updates)
    return changed


def _candidate_zones_write(updates: list[tuple[int, str]]) -> None:
    if not updates:
        return
    if connection.vendor != "postgresql":
        Debtor.objects.bulk_update([Debtor(pk=pk, candidate_timezones=text) for pk, text in updates], ["candidate_timezones"])
        return
    # One statement whatever the number (bulk_update would build a CASE of one branch per row).
    # Not updated_at: the debtor's own details did not change.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Debtor._meta.db_table} d SET candidate_timezones = u.zones "
            "FROM unnest(%s::bigint[], %s::text[]) AS u(id, zones) WHERE d.id = u.id",
            [[pk for pk, _t in updates], [text for _pk, text in updates]],
        )


def debtor_confirm_timezone(*, actor, debtor_id: int, timezone: str, now: dt.datetime | None = None) -> Debtor:
    """A person confirms where the debtor is: the contact-hour rules then hold in this zone
    only (instead of every candidate). Audited (``debtor.timezone_confirmed``); the debtor's
    open cases are replanned in the same transaction, like a change of flags."""
    validate_timezone(timezone)
    now = now or django_timezone.now()
    with transaction.atomic():
        debtor = Debtor.objects.select_for_update().get(pk=debtor_id)
        _b, a = audited_save(obj=debtor, changes={"timezone": timezone, "timezone_confirmed": True},
                             fields=["timezone", "timezone_confirmed"], actor=actor, action="debtor.timezone_confirmed",
                             at=now, clean=False)
        if a:
            debtor_zones_refresh(debtor_ids=[debtor.pk])
            debtor_cases_replan(actor=actor, debtor_id=debtor.pk, now=now)
            debtor.refresh_from_db(fields=["candidate_timezones"])
    return debtor


def debtor_cases_replan(*, actor, debtor_id: int, now: dt.datetime) -> int:
    """Replan the debtor's open cases at once, in the caller's transaction (the flag and the
    plans commit together): a cease-communication or deceased flag cancels the scheduled
    contacts of every case of the debtor now, not at the next sweep, and lifting it schedules
    the next steps again. The case layer answers (debtors.hooks), with the one planning path."""
    return hooks.debtor_cases_replan(debtor_id=debtor_id, now=now, actor=actor)


def contact_point_set_flags(*, actor, contact_point_id: int, now: dt.datetime | None = None, **flags: bool) -> ContactPoint:
    allowed = {"verified", "consent", "opted_out", "do_not_contact", "is_primary"}
    if set(flags) - allowed:
        raise ValueError(f"Unknown contact point flags: {sorted(set(flags) - allowed)}")
    now = now or django_timezone.now()
    with transaction.atomic():
        point = ContactPoint.objects.select_for_update().get(pk=contact_point_id)
        audited_save(obj=point, changes={k: bool(v) for k, v in flags.items()}, fields=sorted(flags), actor=actor,
                     action="contact_point.flags_changed", at=now, clean=False)
    return point


class DebtorStaleError(ValidationError):
    """The debtor changed since it was read; the caller must reload."""

    def __init__(self):
        super().__init__(_("Someone else changed this debtor meanwhile. Reload and try again."), code="stale")


DEBTOR_EDITABLE = ["name", "kind", "country", "timezone", "language", "notes", "postal_code", "birth_date",
                   "preferred_contact_time", *DEBTOR_FLAGS]
# Values of these fields are personal data: the audit row says that they changed, not to what
# (the postal code and date of birth are also the answers of the portal's identity check).
DEBTOR_PRIVATE = {"name", "notes", "postal_code", "birth_date"}


def identity_answers_check(*, postal_code: str | None = None, birth_date: dt.date | None = None, today: dt.date) -> None:
    """The portal's identity answers as a person can have them: a date of birth that is not in
    the future, a postal code of at most 12 characters (the forms, the API and the importer say
    the same)."""
    errors = {}
    if birth_date is not None and birth_date > today:
        errors["birth_date"] = _("A date of birth cannot be in the future.")
    if postal_code is not None and len(postal_code.strip()) > 12:
        errors["postal_code"] = _("A postal code has at most 12 characters.")
    if errors:
        raise ValidationError(errors)


def _unconfirm_a_moved_zone(debtor: Debtor, before: dict) -> None:
    if debtor.timezone != before["timezone"]:
        debtor.timezone_confirmed = False


def debtor_update(
    *, actor, debtor_id: int, changes: dict, expected_updated_at: dt.datetime | None = None, now: dt.datetime | None = None
) -> Debtor:
    """Edit a debtor's details and contact flags. ``expected_updated_at`` refuses a write based
    on an older read. A new time zone typed here is not a confirmation (debtor_confirm_timezone
    is): a confirmed debtor whose zone changes is unconfirmed, and every candidate applies again."""
    unknown = set(changes) - set(DEBTOR_EDITABLE)
    if unknown:
        raise ValueError(f"Not editable here: {sorted(unknown)}")
    now = now or django_timezone.now()
    if "postal_code" in changes:
        changes = {**changes, "postal_code": " ".join((changes["postal_code"] or "").split()).upper()}
    identity_answers_check(postal_code=changes.get("postal_code"), birth_date=changes.get("birth_date"),
                           today=django_timezone.localdate(now))
    with transaction.atomic():
        debtor = Debtor.objects.select_for_update().get(pk=debtor_id)
        if expected_updated_at is not None and debtor.updated_at != expected_updated_at:
            raise DebtorStaleError()
        _b, a = audited_save(obj=debtor, changes=changes, fields=[*DEBTOR_EDITABLE, "timezone_confirmed"], actor=actor,
                             action="debtor.updated", at=now, check=_unconfirm_a_moved_zone, validate_unique=False,
                             private=DEBTOR_PRIVATE)
        if "timezone" in a:
            debtor_zones_refresh(debtor_ids=[debtor.pk])
        if PLANNING_FIELDS & set(a):
            debtor_cases_replan(actor=actor, debtor_id=debtor.pk, now=now)
    return debtor


# --- Data protection: legal hold, export, anonymisation ------------------------------------------
def debtor_set_legal_hold(*, actor, debtor_id: int, hold: bool, reason: str = "", now: dt.datetime | None = None) -> Debtor:
    """Set or lift the legal hold that keeps a debtor's data past its retention. The reason (a
    reference such as a court file number) is kept in the audit row: it is why erasure waited."""
    now = now or django_timezone.now()
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
