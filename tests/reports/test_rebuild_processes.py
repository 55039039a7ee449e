"""A full rebuild whose days are split over processes gives the facts one process gives."""

from __future__ import annotations

import pytest
from django.db import connection

from collections_crm.reports.models import AttemptDaily, TechniqueDaily
from collections_crm.reports.services import facts_rebuild

from .conftest import NOW
from .test_incremental import all_facts

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="forked rebuild processes need a server database (PostgreSQL)"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_full_rebuild_in_two_processes_equals_one(portfolio):
    result = facts_rebuild(now=NOW, full=True, workers=2)
    assert result.mode == "full" and result.steps["attempts"] > 0
    in_processes = all_facts()
    assert in_processes["AttemptDaily"] and in_processes["TechniqueDaily"]
    AttemptDaily.objects.all().delete()
    TechniqueDaily.objects.all().delete()
    facts_rebuild(now=NOW, full=True, workers=1)
    assert all_facts() == in_processes
