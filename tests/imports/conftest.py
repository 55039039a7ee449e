from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from collections_crm.imports.services import import_job_create, import_job_run, import_job_start
from tests.factories import CreditorFactory


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def creditor(db):
    return CreditorFactory(code="banco", name="Banco Ejemplo", currency="EUR")


@pytest.fixture
def upload(admin_user, creditor):
    """Upload bytes as an import job: ``upload(content, name=..., kind=...)``."""

    def _upload(content: bytes, *, name: str = "cartera.csv", kind: str = "portfolio", creditor=creditor, **kwargs):
        return import_job_create(actor=admin_user, creditor=creditor, kind=kind, upload=SimpleUploadedFile(name, content), **kwargs)

    return _upload


@pytest.fixture
def run_job(admin_user):
    """Start and run a job in this process (the Celery path has its own test)."""

    def _run(job, *, strategy: str | None = None):
        import_job_start(actor=admin_user, job_id=job.pk)
        return import_job_run(job_id=job.pk, strategy=strategy)

    return _run


@pytest.fixture
def run_import_inline(monkeypatch):
    """Imports the app queues run here, at once, as the worker would run them (the worker path
    itself is test_worker.py's)."""
    from collections_crm.imports import tasks
    from collections_crm.imports.services import import_job_plan_cases

    monkeypatch.setattr(tasks.run_import, "delay", lambda job_id: import_job_run(job_id=job_id))
    monkeypatch.setattr(tasks.plan_imported_cases, "delay", lambda job_id: import_job_plan_cases(job_id=job_id))
