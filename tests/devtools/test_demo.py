"""The demo data (collections_crm.devtools.demo, ``manage.py seed_demo``)."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_demo_command_creates_every_role_and_is_idempotent():
    from django.core.management import call_command

    from cases.models import Case, Payment, PaymentPlan, PromiseToPay
    from collections_crm.accounts.models import Role, User
    from contacts.models import ContactAttempt
    from debtors.models import Debtor
    from debtors.services import debtor_zones_refresh

    call_command("seed_demo", cases=60, quiet=True)
    assert {Role.AGENT, Role.SUPERVISOR, Role.ADMIN} <= set(User.objects.values_list("role", flat=True))
    # Every demo debtor has the candidate zones the services would give them, and some are
    # uncertain (a Spanish mobile: Madrid or the Canaries; a US number in another zone).
    assert debtor_zones_refresh(debtor_ids=Debtor.objects.values_list("pk", flat=True)) == 0
    assert Debtor.objects.filter(candidate_timezones__contains=",").exists()
    counts = (Case.objects.count(), ContactAttempt.objects.count(), PromiseToPay.objects.count(), Payment.objects.count())
    assert counts[0] == 60 and counts[1] > 60
    statuses = set(Case.objects.values_list("status", flat=True))
    assert {"new", "active"} <= statuses
    # One plan beyond the guardrails waits for a supervisor (the inbox is not empty in the demo).
    [proposed] = PaymentPlan.objects.filter(status="proposed")
    assert proposed.instalment_count == 18 and proposed.case.assigned_agent.username == "agent"
    call_command("seed_demo", cases=60, quiet=True)
    assert (Case.objects.count(), ContactAttempt.objects.count(), PromiseToPay.objects.count(), Payment.objects.count()) == counts
    call_command("seed_demo", cases=80, quiet=True)
    assert Case.objects.count() == 80 and PaymentPlan.objects.filter(status="proposed").count() == 1
    for case in Case.objects.all():
        case.full_clean()
        paid = sum(p.amount for p in case.payments.all())
        assert case.balance == case.original_amount + case.fees - paid


@pytest.mark.django_db
def test_the_logins_printed_at_start_up_name_every_demo_user_and_role_and_write_nothing():
    import io

    from django.core.management import call_command

    from collections_crm.accounts.models import User
    from collections_crm.devtools.demo import DEMO_PASSWORD, DEMO_USERS

    out = io.StringIO()
    call_command("seed_demo", logins=True, stdout=out)
    lines = out.getvalue().splitlines()
    assert DEMO_PASSWORD in lines[0]
    assert [line.split()[:2] for line in lines[1:]] == [[u[0], str(u[3])] for u in DEMO_USERS]
    assert "leads Equipo Norte" in lines[2] and "sees everything" in lines[1]
    assert not User.objects.filter(username="admin").exists()


@pytest.mark.django_db
def test_a_demo_case_has_its_history_on_the_timeline():
    """The demo writes its history in bulk, without audit rows: the timeline shows it all the same."""
    from django.core.management import call_command
    from django.db.models import Count

    from cases.models import Case
    from collections_crm.desk.selectors import case_timeline

    call_command("seed_demo", cases=40, quiet=True)
    case = Case.objects.annotate(n=Count("attempts")).order_by("-n").first()
    page, entries = case_timeline(case=case)
    assert page.paginator.count >= case.n and "contact_attempt.logged" in {e.action for e in entries}
