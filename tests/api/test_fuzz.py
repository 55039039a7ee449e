"""Fuzz every API operation from the API's own OpenAPI schema: whatever the input, no 5xx.

The schema is generated in-process at import time (no server); requests go through the WSGI
application inside the test's transaction, authenticated with a write token. Examples are
bounded so the whole run takes a minute or two.
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

from tests.factories import CaseFactory, ContactPointFactory, PaymentFactory, PromiseFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

schema = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True))))
schema.app = get_wsgi_application()

MAX_EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "15"))


@pytest.fixture
def token(db, admin_user, creditor_a, agent):
    from collections_crm.api.services import api_token_create

    case = CaseFactory(creditor=creditor_a, assigned_agent=agent)
    ContactPointFactory(debtor=case.debtor)
    PromiseFactory(case=case)
    PaymentFactory(case=case)
    _token, raw = api_token_create(actor=admin_user, name="fuzz", creditor=creditor_a, user=admin_user, can_write=True)
    return raw


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
def test_api_never_answers_with_a_server_error(case, token):
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])
