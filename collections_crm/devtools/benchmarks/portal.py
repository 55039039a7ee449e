"""Self-service portal benchmarks: a verified debtor's pages (server time and queries) and
provider callbacks posted per second, on the generated portfolio."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

from django.db import connection
from django.test import Client
from django.utils import timezone

from cases.choices import CaseStatus
from cases.models import Case
from collections_crm.devtools.bench import BenchContext, Figure, benchmark, median_ms
from collections_crm.selfservice.links import link_issue
from collections_crm.selfservice.models import Checkout
from collections_crm.selfservice.payments import callback_receive
from collections_crm.selfservice.providers import sandbox
from debtors.models import Debtor

CALLBACKS = 200


def _visit(case: Case) -> Client:
    Debtor.objects.filter(pk=case.debtor_id).update(postal_code="28013")
    debtor = Debtor.objects.get(pk=case.debtor_id)
    issued = link_issue(case_id=case.pk, source="email")
    client = Client()
    assert client.get("/" + issued.url.split("/", 3)[3]).status_code == 302
    response = client.post("/p/verify/", {"document_end": debtor.document_number[-4:], "postal_code": "28013"})
    assert response.status_code == 302, response.status_code
    return client


@benchmark("portal pages")
def portal_pages(ctx: BenchContext) -> list[Figure]:
    """The pages a debtor opens, on the first workable case (the generator gives every case its
    history: about ten attempts, promises and payments)."""
    case = Case.objects.filter(status__in=CaseStatus.workable_values()).order_by("pk").first()
    assert case is not None
    client = _visit(case)
    figures: list[Figure] = []
    for label, path in (("case page", f"/p/case/{case.pk}/"), ("pay form", f"/p/case/{case.pk}/pay/"),
                        ("plan options", f"/p/case/{case.pk}/plan/"), ("statement PDF", f"/p/case/{case.pk}/statement.pdf")):
        assert client.get(path).status_code == 200
        # Counted by a wrapper: the test client's request_started would reset a capture.
        statements: list[str] = []
        with connection.execute_wrapper(lambda execute, sql, *args, seen=statements: seen.append(sql) or execute(sql, *args)):
            client.get(path)
        figures.append((f"{label} median", median_ms(lambda p=path: client.get(p)), "ms"))
        figures.append((f"{label} queries", len(statements), "queries"))
    return figures


@benchmark("portal callbacks")
def portal_callbacks(ctx: BenchContext) -> list[Figure]:
    """Signed sandbox callbacks confirming payments of small amounts on distinct open cases,
    one after another: each claims its event, locks its checkout and case, posts the payment,
    logs the portal attempt and re-plans the case."""
    now = timezone.now()
    cases = list(Case.objects.filter(status__in=CaseStatus.workable_values(), balance__gt=Decimal("5"))
                 .order_by("-pk").values_list("pk", "currency")[:CALLBACKS])
    checkouts = Checkout.objects.bulk_create(
        Checkout(order=f"9{i:011d}"[:12], case_id=pk, provider="sandbox", amount=Decimal("1.00"), currency=currency,
                 created_at=now) for i, (pk, currency) in enumerate(cases))
    bodies = [sandbox.callback_body(event_id=f"evt_bench_{uuid.uuid4().hex}", order=c.order, paid=True, amount=c.amount,
                                    currency=c.currency) for c in checkouts]
    start = time.perf_counter()
    outcomes = [callback_receive(provider_name="sandbox", body=b, headers={sandbox.HEADER: sandbox.sign(b)}, form={})
                for b in bodies]
    elapsed = time.perf_counter() - start
    assert outcomes.count("posted") == len(bodies), outcomes[:5]
    return [("callbacks posted", len(bodies), "callbacks"),
            ("callback median (sequential)", round(elapsed * 1000 / len(bodies), 2), "ms"),
            ("callbacks per second (one process)", round(len(bodies) / elapsed, 1), "callbacks/s")]
