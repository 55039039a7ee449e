from __future__ import annotations

import datetime as dt
from decimal import Decimal
from itertools import count

import pytest
import time_machine
from django.utils import translation

from cases.models import Creditor
from cases.services import case_create
from debtors.services import debtor_create
from debtors.validators import dni_for

# Wednesday 25 November 2026, 11:00 in Madrid: inside every shipped pack's hours.
WEDNESDAY = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
_seq = count(1)


@pytest.fixture(autouse=True)
def _english():
    # Reasons are stored in the active language; assert on the English source strings.
    with translation.override("en"):
        yield


@pytest.fixture
def clock():
    with time_machine.travel(WEDNESDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def creditor(db):
    return Creditor.objects.create(code="acme", name="Acme Energía S.A.")


@pytest.fixture
def make_debtor(db):
    def _make(*, country="ES", timezone="Europe/Madrid", email=True, phone=True, address=True, **point_flags):
        n = next(_seq)
        points = []
        if email:
            points.append({"kind": "email", "value": f"debtor{n}@example.com", "is_primary": True, **point_flags})
        if phone:
            # A Madrid landline: its one zone is the debtor's. (The uncertain-zone tests make
            # debtors with phones elsewhere on purpose.)
            points.append({"kind": "phone", "value": f"+3491{n:07d}", "consent": True, "is_primary": True})
        if address:
            points.append({"kind": "address", "value": f"Calle Mayor {n}, 28013 Madrid", "is_primary": True})
        return debtor_create(actor=None, name=f"Deudor {n}", document_type="dni", document_number=dni_for(30_000_000 + n),
                             country=country, timezone=timezone, contact_points=points)

    return _make


@pytest.fixture
def make_case(creditor, make_debtor, agent):
    def _make(*, debtor=None, now=None, days_overdue=10, amount="1000.00"):
        from django.utils import timezone

        now = now or timezone.now()
        return case_create(
            actor=None, creditor=creditor, debtor=debtor or make_debtor(), reference=f"EXP-{next(_seq):05d}",
            original_amount=Decimal(amount), due_date=now.date() - dt.timedelta(days=days_overdue),
            assigned_agent=agent, now=now,
        )

    return _make
