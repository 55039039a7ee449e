"""Fuzz every API operation, reads and writes, from the API's own OpenAPI schema: whatever
the input, no 5xx, and every answer is one the schema documents (its status code, its content
type, its body's schema), and input the schema forbids is refused (negative examples).

The schema is generated in-process at import time (no server); requests go through the WSGI
application inside the test's transaction, authenticated with a write token. Examples are
bounded (CRM_FUZZ_EXAMPLES per operation, 15 by default) so the whole run takes a minute or two.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings

from tests.factories import CaseFactory, ContactAttemptFactory, ContactPointFactory, PaymentFactory, PromiseFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

schema = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True))))
schema.app = get_wsgi_application()

MAX_EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "15"))
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.negative_data_rejection,
]


@pytest.fixture
def token(db, admin_user, creditor_a, agent):
    from collections_crm.api.services import api_token_create

    case = CaseFactory(creditor=creditor_a, assigned_agent=agent)
    _records_of_every_kind(case, admin_user)
    _token, raw = api_token_create(actor=admin_user, name="fuzz", creditor=creditor_a, user=admin_user, can_write=True)
    return raw


def _records_of_every_kind(case, admin_user) -> None:
    """One record behind each read endpoint, with the optional values left empty (null), so the
    response bodies are checked against the schema with data in them, nulls included."""
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from cases.models import Instalment, PaymentPlan
    from collections_crm.imports.models import ImportJob, ImportRowError
    from contacts.models import FollowUp, MessageTemplate, MessageTemplateVersion, OutboundMessage

    now = timezone.now()
    point = ContactPointFactory(debtor=case.debtor, kind="email", value="fuzz@example.com")
    PromiseFactory(case=case)
    PaymentFactory(case=case)
    ContactAttemptFactory(case=case)  # no contact point, no excuse category
    MessageTemplate.objects.create(name="Sin versión", objective="remind", channel="sms", language="es")  # version null
    template = MessageTemplate.objects.create(name="Recordatorio", objective="remind", channel="email", language="es")
    version = MessageTemplateVersion.objects.create(template=template, number=1, subject="Saldo", body="Su saldo", created_at=now)
    template.current_version = version
    template.save(update_fields=["current_version"])
    followup = FollowUp.objects.create(case=case, objective="remind", step=1, channel="email", kind="automatic", due_at=now,
                                       anchor_at=now, status="pending", reason={"text": "fuzz"}, created_at=now)
    OutboundMessage.objects.create(case=case, followup=followup, channel="email", objective="remind", contact_point=point,
                                   recipient=point.value, template_version=version, language="es", subject="Saldo", body="Su saldo",
                                   status="queued", idempotency_key=f"fuzz-{case.pk}", not_before=now, created_at=now)
    plan = PaymentPlan.objects.create(case=case, total_amount=Decimal("200"), instalment_count=2,
                                      first_due_date=timezone.localdate() + dt.timedelta(days=10), created_at=now)
    for number in (1, 2):
        Instalment.objects.create(plan=plan, number=number, due_date=plan.first_due_date + dt.timedelta(days=30 * (number - 1)),
                                  amount=Decimal("100"))
    job = ImportJob.objects.create(creditor=case.creditor, kind="portfolio", file="imports/fuzz.csv", original_name="fuzz.csv",
                                   size=10, sha256="0" * 64, file_format="csv", headers=["Referencia", ""], created_by=admin_user,
                                   created_at=now, status="done")
    ImportRowError.objects.create(job=job, line=2, column="", value="", message="Fuzz")


@pytest.fixture(autouse=True)
def _in_test_transaction(settings, tmp_path):
    """Keep the test's connection open across WSGI requests (as Django's test client does) and
    lift the rate limits, which the fuzzer would otherwise hit."""
    from django.core import signals
    from django.db import close_old_connections

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_token": None, "api_session": None}}
    settings.MEDIA_ROOT = tmp_path
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
def test_api_answers_as_its_schema_says(case, token):
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    case.validate_response(response, checks=CHECKS)


def test_unknown_api_paths_are_json_404s_and_slashes_still_redirect(client, admin_user):
    """The fuzzer sends ids that are no numbers ("null,null"): the answer is the API's JSON 404
    the schema documents, not the site's HTML page."""
    client.force_login(admin_user)
    for path in ("/api/v1/cases/null,null/", "/api/v1/nope/", "/api/v1/"):
        response = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    assert client.post("/api/v1/nope/", {}).status_code == 404  # no CSRF page either
    assert client.get("/api/v1/cases")["Location"] == "/api/v1/cases/"
