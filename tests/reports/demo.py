"""A believable small portfolio relative to now (seeded, so every run is the same), for the
browser test and its screenshot."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.utils import timezone

from cases.models import Case, Creditor, Payment, PromiseToPay
from contacts.models import ContactAttempt, ContactRefusal, ExcuseCategory, Technique
from tests.factories import DebtorFactory

# How often an interaction with the technique ends in a promise, and how often it is kept.
QUALITY = {"payment_options": (0.45, 0.7), "empathy_firmness": (0.35, 0.65), "dialogue": (0.3, 0.55),
           "avoid_excuses": (0.25, 0.5), "preparation": (0.2, 0.5), "assertive_first_contact": (0.15, 0.4)}


def build_demo(agents, *, cases: int = 160, seed: int = 6) -> None:
    rng = random.Random(seed)
    now = timezone.now()
    today = timezone.localdate(now)
    creditors = [Creditor.objects.get_or_create(code=c, defaults={"name": n})[0]
                 for c, n in (("banco", "Banco Ejemplo"), ("telco", "Telecom Iberia"), ("energia", "Energía Sol"))]
    # A transactional test before this one may have flushed the seeded catalogues: make sure they exist.
    techniques = {
        code: Technique.objects.get_or_create(code=code, defaults={"name_es": code.replace("_", " "), "name_en": code.replace("_", " ").capitalize()})[0]
        for code in QUALITY
    }
    excuses = list(ExcuseCategory.objects.all()) or [
        ExcuseCategory.objects.create(code="no_funds", name_es="No tiene fondos ahora", name_en="No funds right now", suggested_objective="get_commitment")
    ]
    objectives = ["remind", "remove_barriers", "get_commitment", "pressure", "change_terms"]
    for i in range(cases):
        agent = rng.choice(agents + [None]) if i % 9 == 0 else rng.choice(agents)
        overdue = rng.choice([0, 5, 12, 20, 25, 35, 45, 50, 58, 70, 85, 100, 140, 170, 200, 260])
        original = Decimal(rng.randrange(200, 6000))
        placed = today - dt.timedelta(days=min(overdue + rng.randrange(0, 20), 150))
        case = Case.objects.create(
            creditor=rng.choice(creditors), debtor=DebtorFactory(), reference=f"DEMO-{i:04d}", original_amount=original,
            balance=original, due_date=today - dt.timedelta(days=overdue), placed_at=placed, status="active",
            objective=rng.choices(objectives, [4, 1, 4, 2, 1])[0], assigned_agent=agent,
            next_action_at=None if i % 23 == 0 else now + dt.timedelta(days=rng.randrange(-4, 10)),
        )
        balance = original
        for _ in range(rng.randrange(1, 7)):
            when = now - dt.timedelta(days=rng.randrange(0, min((today - placed).days, 120) + 1), hours=rng.randrange(0, 8))
            code = rng.choice(list(techniques))
            promise_p, kept_p = QUALITY[code]
            spoke = rng.random() < 0.55
            promised = spoke and rng.random() < promise_p * 1.6
            attempt = ContactAttempt.objects.create(
                case=case, agent=agent or rng.choice(agents), channel="phone", occurred_at=when, objective=case.objective,
                outcome="promise" if promised else ("excuse" if spoke else "no_answer"),
                excuse_category=rng.choice(excuses) if spoke and not promised else None,
            )
            attempt.techniques.set([techniques[code]] + ([techniques["dialogue"]] if rng.random() < 0.3 and code != "dialogue" else []))
            if not promised or balance <= 0:
                continue
            amount = min(balance, Decimal(rng.randrange(50, 800)))
            due = timezone.localdate(when) + dt.timedelta(days=rng.randrange(1, 10))
            status = "pending" if due >= today else ("kept" if rng.random() < kept_p else rng.choice(["broken", "broken", "partial"]))
            paid = amount if status == "kept" else (amount / 2).quantize(Decimal("0.01")) if status == "partial" else Decimal("0")
            PromiseToPay.objects.create(case=case, amount=amount, due_date=due, status=status, amount_paid=paid,
                                        created_by=attempt.agent, contact_attempt=attempt, created_at=when + dt.timedelta(minutes=5))
            if paid:
                Payment.objects.create(case=case, amount=paid, received_on=due, created_at=now)
                balance -= paid
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            ContactRefusal.objects.create(
                case=case, channel=rng.choice(["phone", "phone", "sms", "email"]), stage="call",
                reason=rng.choices(["outside_hours", "weekly_call_cap", "conversation_pause", "no_consent", "do_not_contact"], [5, 4, 3, 2, 1])[0],
                at=now - dt.timedelta(days=rng.randrange(0, 60), hours=rng.randrange(0, 12)),
            )
        if balance != original:
            closed = balance == 0
            Case.objects.filter(pk=case.pk).update(
                balance=balance, status="paid" if closed else "active", closed_at=now if closed else None,
                next_action_at=None if closed else case.next_action_at,
            )
