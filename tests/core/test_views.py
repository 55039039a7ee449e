"""The health URLs of collections_crm.core.views (the outage tests check readiness and status)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_is_public(client):
    assert client.get("/healthz").json() == {"status": "ok"}
