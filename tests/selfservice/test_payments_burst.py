"""Issue #20's load promise: 1,000 portal payments confirmed by callback in a burst are posted
exactly once each. Every callback arrives twice, the two copies side by side in the queue so
that two threads race on most of them, from 16 threads on PostgreSQL (SQLite would serialise
the writers and prove nothing)."""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.utils import timezone

from cases.models import Case, Payment
from collections_crm.audit.models import AuditLog
from collections_crm.selfservice.models import CallbackOutcome, Checkout, CheckoutStatus, ProviderEvent
from collections_crm.selfservice.payments import callback_receive
from collections_crm.selfservice.providers import sandbox
from debtors.models import Debtor
from tests.factories import CaseFactory, CreditorFactory, DebtorFactory

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need a server database (PostgreSQL)"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CASES = 1000
THREADS = 16
BALANCE, PAID = Decimal("500.00"), Decimal("120.00")


def _pending_checkouts(n: int) -> list[Checkout]:
    creditor = CreditorFactory()
    debtors = Debtor.objects.bulk_create(DebtorFactory.build_batch(n))
    cases = Case.objects.bulk_create(
        CaseFactory.build(creditor=creditor, debtor=debtor, original_amount=BALANCE, balance=BALANCE) for debtor in debtors)
    now = timezone.now()
    return Checkout.objects.bulk_create(
        Checkout(order=f"2612B{i:07d}", case=case, provider="sandbox", amount=PAID, currency=case.currency, created_at=now)
        for i, case in enumerate(cases))


def test_a_thousand_callbacks_sent_twice_at_once_post_each_payment_once(settings):
    settings.CRM_SANDBOX_SECRET = "burst-secret"
    checkouts = _pending_checkouts(CASES)
    work: queue.SimpleQueue[tuple[bytes, dict[str, str]]] = queue.SimpleQueue()
    for i, checkout in enumerate(checkouts):
        body = sandbox.callback_body(event_id=f"sbx_burst_{i}", order=checkout.order, paid=True, amount=PAID, currency="EUR")
        headers = {sandbox.HEADER: sandbox.sign(body)}
        work.put((body, headers))
        work.put((body, headers))  # the provider's retry, arriving while the first is handled
    start = threading.Barrier(THREADS)

    def drain(_n: int) -> Counter[str]:
        # One connection per thread for the whole burst, as a web worker's thread keeps one.
        outcomes: Counter[str] = Counter()
        try:
            start.wait(timeout=30)
            while True:
                try:
                    body, headers = work.get_nowait()
                except queue.Empty:
                    return outcomes
                outcomes[callback_receive(provider_name="sandbox", body=body, headers=headers, form={})] += 1
        finally:
            connections.close_all()

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = sum(pool.map(drain, range(THREADS)), Counter())
    elapsed = time.monotonic() - began
    print(f"\n{2 * CASES} callbacks from {THREADS} threads in {elapsed:.1f} s")

    assert outcomes == {CallbackOutcome.POSTED: CASES, CallbackOutcome.DUPLICATE: CASES}
    assert Payment.objects.count() == CASES
    assert Payment.objects.values("case").distinct().count() == CASES
    # Every case lowered once, by the amount paid.
    assert Counter(Case.objects.values_list("balance", flat=True)) == {BALANCE - PAID: CASES}
    assert Counter(Checkout.objects.values_list("status", flat=True)) == {CheckoutStatus.PAID: CASES}
    assert Checkout.objects.filter(payment__isnull=True).count() == 0
    # The copies were refused by the callback's own claim: one row per event, all posted.
    assert Counter(ProviderEvent.objects.values_list("outcome", flat=True)) == {CallbackOutcome.POSTED: CASES}
    assert AuditLog.objects.filter(action="payment.posted").count() == CASES
