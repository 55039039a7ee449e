"""Debtor services: documents are validated, contact points normalised, every change audited."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from collections_crm.audit.models import AuditLog
from debtors.models import ContactPoint, Debtor
from debtors.services import (
    contact_point_add,
    debtor_confirm_timezone,
    debtor_create,
    debtor_set_flags,
    debtor_update,
    debtor_zones_refresh,
)

pytestmark = pytest.mark.django_db


def test_debtor_create_validates_document_and_audits(agent):
    with pytest.raises(ValidationError) as exc:
        debtor_create(actor=agent, name="Juan", document_type="dni", document_number="12345678A")  # wrong letter
    assert "document_number" in exc.value.message_dict
    debtor = debtor_create(
        actor=agent, name="Juan", document_type="dni", document_number="12345678-z",
        contact_points=[{"kind": "phone", "value": "612 34 56 78"}, {"kind": "email", "value": "Juan@Example.com"}],
    )
    assert debtor.document_number == "12345678Z"
    assert sorted(debtor.contact_points.values_list("value", flat=True)) == ["+34612345678", "juan@example.com"]
    assert AuditLog.objects.filter(action="contact_point.added").count() == 2
    debtor_set_flags(actor=agent, debtor_id=debtor.pk, cease_communication=True)
    entry = AuditLog.objects.get(action="debtor.flags_changed")
    assert entry.after == {"cease_communication": True}


# --- Candidate time zones ---------------------------------------------------------------------


def _us_debtor(agent, **fields):
    return debtor_create(actor=agent, name="Jane Roe", document_type="ssn", document_number="SSN123456789", country="US",
                         timezone="America/New_York", **fields)


def test_every_phone_adds_its_zones_to_the_candidates(agent):
    debtor = _us_debtor(agent, contact_points=[{"kind": "phone", "value": "+12125550123"}])
    debtor.refresh_from_db()
    assert (debtor.candidate_timezones, debtor.timezone_confirmed) == ("America/New_York", False)
    contact_point_add(actor=agent, debtor=debtor, kind="phone", value="+13125550123", do_not_contact=True)
    contact_point_add(actor=agent, debtor=debtor, kind="email", value="jane@example.com")
    debtor.refresh_from_db()
    # A number marked not to be used still says where the debtor may be.
    assert debtor.candidate_zones == ("America/Chicago", "America/New_York")
    contact_point_add(actor=agent, debtor=debtor, kind="phone", value="+34612345678")
    debtor.refresh_from_db()
    assert debtor.candidate_timezones == "America/Chicago,America/New_York,Atlantic/Canary,Europe/Madrid"


def test_confirming_the_zone_audits_it_and_leaves_that_zone_alone(agent):
    debtor = _us_debtor(agent, contact_points=[{"kind": "phone", "value": "+13125550123"}])
    confirmed = debtor_confirm_timezone(actor=agent, debtor_id=debtor.pk, timezone="America/Chicago")
    assert (confirmed.timezone, confirmed.timezone_confirmed, confirmed.candidate_timezones) == (
        "America/Chicago", True, "America/Chicago")
    entry = AuditLog.objects.get(action="debtor.timezone_confirmed")
    assert (entry.actor, entry.object_id) == (agent, str(debtor.pk))
    assert (entry.before, entry.after) == ({"timezone": "America/New_York", "timezone_confirmed": False},
                                           {"timezone": "America/Chicago", "timezone_confirmed": True})
    # A phone in another zone added later does not make a confirmed zone uncertain again.
    contact_point_add(actor=agent, debtor=debtor, kind="phone", value="+14155550123")
    debtor.refresh_from_db()
    assert debtor.candidate_zones == ("America/Chicago",)
    # The same confirmation again changes nothing and writes nothing.
    debtor_confirm_timezone(actor=agent, debtor_id=debtor.pk, timezone="America/Chicago")
    assert AuditLog.objects.filter(action="debtor.timezone_confirmed").count() == 1


def test_an_unknown_zone_is_refused_and_nothing_is_written(agent):
    debtor = _us_debtor(agent)
    with pytest.raises(ValidationError):
        debtor_confirm_timezone(actor=agent, debtor_id=debtor.pk, timezone="America/Atlantis")
    debtor.refresh_from_db()
    assert (debtor.timezone, debtor.timezone_confirmed) == ("America/New_York", False)
    assert not AuditLog.objects.filter(action="debtor.timezone_confirmed").exists()


def test_a_zone_typed_in_the_details_is_not_a_confirmation(agent):
    debtor = _us_debtor(agent, contact_points=[{"kind": "phone", "value": "+13125550123"}])
    debtor_confirm_timezone(actor=agent, debtor_id=debtor.pk, timezone="America/Chicago")
    debtor_update(actor=agent, debtor_id=debtor.pk, changes={"timezone": "America/Denver"})
    debtor.refresh_from_db()
    assert (debtor.timezone_confirmed, debtor.candidate_zones) == (False, ("America/Chicago", "America/Denver"))
    entry = AuditLog.objects.filter(action="debtor.updated").latest("pk")
    assert entry.after == {"timezone": "America/Denver", "timezone_confirmed": False}
    # Other details leave the zones (and a confirmation) alone.
    debtor_confirm_timezone(actor=agent, debtor_id=debtor.pk, timezone="America/Denver")
    debtor_update(actor=agent, debtor_id=debtor.pk, changes={"language": "es"})
    debtor.refresh_from_db()
    assert (debtor.timezone_confirmed, debtor.candidate_zones) == (True, ("America/Denver",))


def test_the_refresh_is_set_based_and_writes_only_what_changed(agent, django_assert_num_queries):
    debtors = [_us_debtor(agent) if n == 0 else debtor_create(
        actor=agent, name=f"D{n}", document_type="passport", document_number=f"PAS{n:06d}", country="US",
        timezone="America/New_York") for n in range(12)]
    for n, debtor in enumerate(debtors):
        ContactPoint.objects.create(debtor=debtor, kind="phone", value=f"+1312555{n:04d}")  # bypassing the services
    ids = [d.pk for d in debtors]
    with django_assert_num_queries(3):  # the debtors (locked), their phones, one write
        assert debtor_zones_refresh(debtor_ids=ids) == 12
    with django_assert_num_queries(2):  # nothing left to write
        assert debtor_zones_refresh(debtor_ids=ids) == 0
    assert set(Debtor.objects.filter(pk__in=ids).values_list("candidate_timezones", flat=True)) == {
        "America/Chicago,America/New_York"}
