"""A small fixed portfolio whose dashboard figures are computed by hand in the tests.

Today is Monday 16 March 2026, 12:00 in Madrid. Team Norte (supervisor ``sup``): agent1 (A),
agent2 (B). agent9 (C) is in team Sur. Techniques: dialogue (D), payment options (PO).

case  agent  creditor  due         placed      balance  status  notes
c1    A      K1        2026-03-16  2026-03-01   950     active  paid 50 on 03-13; next step tomorrow
c2    A      K1        2026-02-24  2026-02-01   500     active  paid 300 on 03-05; no next step
c3    B      K2        2026-01-20  2026-01-10  2000     active  next step 2 days ago (overdue)
c4    B      K1        2025-12-01  2025-11-15     0     paid    paid 1500 on 03-10, closed then
c5    C      K1        2026-02-01  2026-02-15  3000     active  paid 100 on 03-06 (other team)
c6    -      K2        2025-09-01  2025-09-10   400     active  unassigned

attempts (March unless said): a1 A c2 03-02 09:00 get_commitment promise [D, PO];
a2 A c1 03-10 no_answer remind [D]; a3 B c3 03-03 promise pressure [PO] excuse no_funds;
a4 B c3 03-15 excuse get_commitment [D] no_funds; a5 C c5 03-04 promise [D]; a6 A c2 02-20 [D].
promises: p1 c2 A 03-02 10:00 300 kept (a1); p2 c3 B 03-03 10:00 500 broken (a3);
p3 c1 A 03-12 200 partial 50 (no attempt: case objective remind); p4 c3 B 03-14 100 pending;
p5 c5 C 03-04 10:00 100 kept (a5). Audit: c3 objective remind -> get_commitment on 03-08.
Policy refusals (phone, 21:00): c3 outside_hours 03-05; c1 weekly_call_cap 03-11 and 03-12;
c5 outside_hours 03-06.
"""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.db import transaction

from cases.models import Creditor
from collections_crm.audit.services import audit_record
from contacts.models import ContactRefusal, ExcuseCategory, Technique
from tests.factories import CaseFactory, ContactAttemptFactory, PaymentFactory, PromiseFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

MADRID = zoneinfo.ZoneInfo("Europe/Madrid")
NOW = dt.datetime(2026, 3, 16, 12, 0, tzinfo=MADRID)
TODAY = dt.date(2026, 3, 16)


def at(month: int, day: int, hour: int = 9, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, 0, tzinfo=MADRID)


def D(value: str) -> Decimal:
    return Decimal(value)


@pytest.fixture(autouse=True)
def fresh_cache():
    """The dashboard caches its tables per rebuild; tests with frozen clocks rebuild at the same
    instant, so each test starts from an empty cache."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def portfolio(agent, teammate, outsider, supervisor):
    k1 = Creditor.objects.create(code="k1", name="Banco Uno")
    k2 = Creditor.objects.create(code="k2", name="Telco Dos")
    A, B, C = agent, teammate, outsider

    def case(ref, who, creditor, due, placed, original, balance, **extra):
        return CaseFactory(
            reference=ref, assigned_agent=who, creditor=creditor, due_date=due, placed_at=placed,
            original_amount=D(original), balance=D(balance), **extra,
        )

    c1 = case("C1", A, k1, dt.date(2026, 3, 16), dt.date(2026, 3, 1), "1000", "950", next_action_at=NOW + dt.timedelta(days=1))
    c2 = case("C2", A, k1, dt.date(2026, 2, 24), dt.date(2026, 2, 1), "800", "500", next_action_at=None)
    c3 = case("C3", B, k2, dt.date(2026, 1, 20), dt.date(2026, 1, 10), "2000", "2000",
              next_action_at=NOW - dt.timedelta(days=2), objective="get_commitment")
    c4 = case("C4", B, k1, dt.date(2025, 12, 1), dt.date(2025, 11, 15), "1500", "0", status="paid", closed_at=at(3, 10, 15))
    c5 = case("C5", C, k1, dt.date(2026, 2, 1), dt.date(2026, 2, 15), "3100", "3000", next_action_at=NOW)
    c6 = case("C6", None, k2, dt.date(2025, 9, 1), dt.date(2025, 9, 10), "400", "400", next_action_at=NOW + dt.timedelta(days=5))

    dialogue = Technique.objects.get(code="dialogue")
    options = Technique.objects.get(code="payment_options")
    no_funds = ExcuseCategory.objects.get(code="no_funds")

    def attempt(who, on, when, objective, outcome, techniques, excuse=None):
        a = ContactAttemptFactory(agent=who, case=on, occurred_at=when, objective=objective, outcome=outcome, excuse_category=excuse)
        a.techniques.set(techniques)
        return a

    a1 = attempt(A, c2, at(3, 2), "get_commitment", "promise", [dialogue, options])
    a2 = attempt(A, c1, at(3, 10, 11), "remind", "no_answer", [dialogue])
    a3 = attempt(B, c3, at(3, 3), "pressure", "promise", [options], no_funds)
    a4 = attempt(B, c3, at(3, 15), "get_commitment", "excuse", [dialogue], no_funds)
    a5 = attempt(C, c5, at(3, 4), "remind", "promise", [dialogue])
    a6 = attempt(A, c2, at(2, 20), "remind", "no_answer", [dialogue])

    def promise(on, who, when, amount, status, paid="0", via=None):
        return PromiseFactory(
            case=on, created_by=who, created_at=when, amount=D(amount), status=status, amount_paid=D(paid),
            contact_attempt=via, due_date=when.date() + dt.timedelta(days=5),
        )

    promise(c2, A, at(3, 2, 10), "300", "kept", "300", a1)
    promise(c3, B, at(3, 3, 10), "500", "broken", "0", a3)
    promise(c1, A, at(3, 12), "200", "partial", "50")
    promise(c3, B, at(3, 14), "100", "pending")
    promise(c5, C, at(3, 4, 10), "100", "kept", "100", a5)

    for on, amount, day in ((c2, "300", 5), (c1, "50", 13), (c4, "1500", 10), (c5, "100", 6)):
        PaymentFactory(case=on, amount=D(amount), received_on=dt.date(2026, 3, day), created_at=at(3, day))

    for on, reason, day in ((c3, "outside_hours", 5), (c1, "weekly_call_cap", 11), (c1, "weekly_call_cap", 12), (c5, "outside_hours", 6)):
        ContactRefusal.objects.create(case=on, channel="phone", reason=reason, stage="call", at=at(3, day, 21))

    with transaction.atomic():
        audit_record(actor=supervisor, action="case.objective_changed", obj=c3,
                     before={"objective": "remind"}, after={"objective": "get_commitment"}, at=at(3, 8))

    return SimpleNamespace(
        k1=k1, k2=k2, A=A, B=B, C=C, c1=c1, c2=c2, c3=c3, c4=c4, c5=c5, c6=c6, dialogue=dialogue, options=options,
        no_funds=no_funds, attempts=[a1, a2, a3, a4, a5, a6],
    )


@pytest.fixture
def built(portfolio):
    from collections_crm.reports.services import facts_rebuild

    facts_rebuild(now=NOW, full=True)
    return portfolio
