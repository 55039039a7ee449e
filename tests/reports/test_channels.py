"""The dashboard's channel view on the fixed portfolio (conftest) plus one case worked on the
portal: money, promises and plans by channel, and the personal links' click-through and
conversion, from the fact tables the rebuild keeps (full and incremental give the same rows)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse

from cases.models import PaymentPlan
from collections_crm.audit.services import audit_record
from collections_crm.reports.models import ChannelDaily, PortalLinkDaily
from collections_crm.reports.selectors import channel_figures, portal_link_figures, scope_for_user
from collections_crm.reports.services import facts_rebuild
from collections_crm.selfservice.models import Checkout, PortalLink
from tests.factories import CaseFactory, ContactAttemptFactory, PaymentFactory, PromiseFactory

from .conftest import NOW, TODAY, at

pytestmark = pytest.mark.django_db
MARCH = {"date_from": dt.date(2026, 3, 1), "date_to": TODAY}


def scope(user, **kw):
    return scope_for_user(user=user, today=TODAY, **{**MARCH, **kw})


def _link(case, source, created, opened=None, n=[0]):  # noqa: B006 - a counter for unique digests
    n[0] += 1
    return PortalLink.objects.create(case=case, token_digest=f"t{n[0]}", code_digest=f"c{n[0]}", source=source, created_at=created,
                                     expires_at=created + dt.timedelta(days=30), first_opened_at=opened, last_opened_at=opened,
                                     open_count=1 if opened else 0)


@pytest.fixture
def with_portal(portfolio):
    p = portfolio
    c7 = CaseFactory(reference="C7", assigned_agent=p.A, creditor=p.k1, due_date=dt.date(2026, 2, 1), placed_at=dt.date(2026, 2, 1))
    visit = ContactAttemptFactory(case=c7, channel="portal", direction="inbound", occurred_at=at(3, 9, 10), outcome="promise", agent=None)
    payment = PaymentFactory(case=c7, amount=Decimal("80.00"), received_on=dt.date(2026, 3, 9), created_at=at(3, 9, 10), method="card")
    Checkout.objects.create(case=c7, order="0001ABCDEFGH", provider="sandbox", amount=Decimal("80.00"), currency="EUR", status="paid",
                            created_at=at(3, 9, 10), payment=payment)
    PromiseFactory(case=c7, created_by=None, created_at=at(3, 11, 10), amount=Decimal("120.00"), contact_attempt=visit,
                   due_date=dt.date(2026, 3, 20))
    ContactAttemptFactory(case=c7, channel="sms", occurred_at=at(3, 12, 9), agent=p.A)
    PaymentPlan.objects.create(case=c7, total_amount=Decimal("300.00"), instalment_count=3, frequency="monthly",
                               first_due_date=dt.date(2026, 4, 1), created_at=at(3, 12, 11), created_by=p.A)
    email = _link(c7, "email", at(3, 8), opened=at(3, 9, 9))
    _link(p.c1, "agent", at(3, 10))
    _link(p.c2, "sms", at(3, 5), opened=at(3, 6))
    with transaction.atomic():
        audit_record(actor=None, action="portal.promise", obj=c7, case_id=c7.pk, after={"amount": "120.00"}, at=at(3, 11, 10))
    p.c7, p.email_link = c7, email
    return p


def test_money_promises_and_plans_by_channel(with_portal, admin_user, supervisor, agent, outsider):
    facts_rebuild(now=NOW, full=True)
    rows = {r["channel"]: r for r in channel_figures(scope(admin_user))["rows"]}
    assert list(rows)[0] == "portal"  # the portal leads the view
    assert {k: (r["payments"], r["collected"], r["promises"], r["plans"]) for k, r in rows.items()} == {
        "portal": (1, Decimal("80.00"), 1, 0),  # the checkout's payment; the promise made on the portal visit
        "phone": (3, Decimal("450.00"), 5, 0),  # each after a call within the window
        "sms": (0, Decimal("0"), 0, 1),  # the plan after the SMS
        "none": (1, Decimal("1500.00"), 0, 0),  # C4: paid with no contact before
    }
    assert rows["none"]["share"] == pytest.approx(1500 / 2030)
    # Who may see what: a supervisor's teams (not agent9's C5), an agent their own cases.
    sup = {r["channel"]: (r["payments"], r["collected"]) for r in channel_figures(scope(supervisor))["rows"]}
    assert sup["phone"] == (2, Decimal("350.00")) and sup["portal"] == (1, Decimal("80.00"))
    mine = {r["channel"]: r["collected"] for r in channel_figures(scope(agent))["rows"]}
    assert mine == {"portal": Decimal("80.00"), "phone": Decimal("350.00"), "sms": 0}
    assert {r["channel"] for r in channel_figures(scope(outsider))["rows"]} == {"phone"}


def test_link_click_through_and_conversion_by_source(with_portal, admin_user, outsider):
    facts_rebuild(now=NOW, full=True)
    links = portal_link_figures(scope(admin_user))
    assert [(r["source"], r["issued"], r["opened"], r["converted"]) for r in links["rows"]] == [
        ("email", 1, 1, 1), ("sms", 1, 1, 0), ("agent", 1, 0, 0)]
    total = links["total"]
    assert (total["issued"], total["opened"], total["converted"]) == (3, 2, 1)
    assert total["click_through"].rate == pytest.approx(2 / 3) and total["conversion"].rate == pytest.approx(1 / 2)
    assert portal_link_figures(scope(outsider))["rows"] == []


def test_incremental_rebuild_follows_the_portal_and_matches_a_full_one(with_portal, admin_user):
    facts_rebuild(now=NOW, full=True)
    p = with_portal
    # After the last run: the SMS link is converted by a plan chosen on the portal, a new link is
    # given and opened, and a payment comes in after a portal visit.
    with transaction.atomic():
        audit_record(actor=None, action="portal.plan", obj=p.c2, case_id=p.c2.pk, after={}, at=at(3, 16, 10))
    _link(p.c3, "letter", at(3, 15), opened=at(3, 16, 9))
    with transaction.atomic():
        audit_record(actor=None, action="portal.link_opened", obj=p.c3, case_id=p.c3.pk, after={"source": "letter"}, at=at(3, 16, 9))
    facts_rebuild(now=NOW + dt.timedelta(hours=1))
    by_source = {r["source"]: (r["issued"], r["opened"], r["converted"]) for r in portal_link_figures(scope(admin_user))["rows"]}
    assert by_source == {"email": (1, 1, 1), "sms": (1, 1, 1), "letter": (1, 1, 0), "agent": (1, 0, 0)}

    def rows(model):
        return sorted(model.objects.values_list(*[f.attname for f in model._meta.concrete_fields if f.name != "id"]), key=str)

    incremental = {m: rows(m) for m in (ChannelDaily, PortalLinkDaily)}
    facts_rebuild(now=NOW + dt.timedelta(hours=1), full=True)
    assert {m: rows(m) for m in (ChannelDaily, PortalLinkDaily)} == incremental


def test_dashboard_shows_the_channel_view(client, with_portal, supervisor):
    facts_rebuild(now=NOW, full=True)
    client.force_login(supervisor)
    response = client.get(reverse("reports:dashboard"), {"date_from": "2026-03-01", "date_to": "2026-03-16"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="channels"' in html and "Self-service portal" in html and "Click-through" in html
    charts = response.context["charts"]["channels"]
    assert charts["labels"][0] == "Self-service portal" and charts["collected"][0] == 80.0
