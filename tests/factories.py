"""factory_boy factories for every core record. Defaults are valid; override what a test needs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from cases.models import Barrier, Case, Creditor, Payment, PromiseToPay
from collections_crm.accounts.models import Role, Team, User
from contacts.models import ContactAttempt
from debtors.models import ContactPoint, Debtor
from debtors.validators import dni_for

PASSWORD = "correct-horse-battery-9"


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name", locale="es_ES")
    last_name = factory.Faker("last_name", locale="es_ES")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = Role.AGENT
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class CreditorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Creditor
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"creditor-{n}")
    name = factory.Sequence(lambda n: f"Acreedor {n} S.A.")


class DebtorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Debtor

    name = factory.Faker("name", locale="es_ES")
    document_type = "dni"
    document_number = factory.Sequence(lambda n: dni_for(20_000_000 + n))
    timezone = "Europe/Madrid"


class ContactPointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactPoint

    debtor = factory.SubFactory(DebtorFactory)
    kind = "phone"
    value = factory.Sequence(lambda n: f"+346{n:08d}")
    verified = True
    consent = True


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    creditor = factory.SubFactory(CreditorFactory)
    debtor = factory.SubFactory(DebtorFactory)
    reference = factory.Sequence(lambda n: f"REF-{n:06d}")
    original_amount = Decimal("1000.00")
    fees = Decimal("0.00")
    balance = factory.LazyAttribute(lambda c: c.original_amount + c.fees)
    due_date = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=45))
    placed_at = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=30))
    status = "active"


class ContactAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactAttempt

    case = factory.SubFactory(CaseFactory)
    channel = "phone"
    occurred_at = factory.LazyFunction(timezone.now)
    objective = "remind"
    outcome = "no_answer"


class PromiseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PromiseToPay

    case = factory.SubFactory(CaseFactory)
    amount = Decimal("100.00")
    due_date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=3))
    created_at = factory.LazyFunction(timezone.now)


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    case = factory.SubFactory(CaseFactory)
    amount = Decimal("50.00")
    received_on = factory.LazyFunction(timezone.localdate)
    created_at = factory.LazyFunction(timezone.now)


class BarrierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Barrier

    case = factory.SubFactory(CaseFactory)
    kind = "invoice_copy"
    opened_at = factory.LazyFunction(timezone.now)
