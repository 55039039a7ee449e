"""Import pages: admins only, upload → map and preview → start, progress, report and its CSV."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from collections_crm.imports.models import ImportJob, ImportStatus
from collections_crm.imports.services import import_job_run

from .test_loader import MESSY

pytestmark = pytest.mark.django_db

MAPPING = {"map_reference": "Referencia", "map_document_number": "DNI/NIF", "map_name": "Nombre", "map_phone": "Teléfono",
           "map_email": "Email", "map_original_amount": "Importe", "map_fees": "Gastos", "map_balance": "Saldo",
           "map_due_date": "Vencimiento", "day_first": "on", "decimal_comma": "on"}


@pytest.mark.parametrize("persona", ["agent", "supervisor"])
def test_only_admins_may_import(client, request, persona, creditor):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("imports:list")).status_code == 403
    assert client.post(reverse("imports:list"), {"creditor": creditor.pk, "kind": "portfolio",
                                                 "file": SimpleUploadedFile("x.csv", MESSY)}).status_code == 403
    assert ImportJob.objects.count() == 0


def test_upload_map_preview_start_and_report(client, admin_user, creditor):
    client.force_login(admin_user)
    with translation.override("en"):
        response = client.post(reverse("imports:list"), {"creditor": creditor.pk, "kind": "portfolio",
                                                         "file": SimpleUploadedFile("cartera.csv", MESSY)}, HTTP_ACCEPT_LANGUAGE="en")
        job = ImportJob.objects.get()
        assert response.status_code == 302 and response.url == reverse("imports:detail", args=[job.pk])
        page = client.get(response.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "Map the columns" in page and "This is not a valid DNI number." in page  # the preview shows line 4's problem
        # The preview flags a repeated reference as the import will.
        assert page.count("This reference is already on an earlier line of the file.") == 1
        assert "Referencia<div class=\"fw-normal text-primary\" data-testid=\"column-target\">→ Case reference</div>" in page
        # A required field left unmapped is a field error; nothing starts.
        response = client.post(response.url, {**MAPPING, "map_reference": "", "start": "1"}, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200 and "Choose a column for: Case reference" in response.content.decode()
        job.refresh_from_db()
        assert job.status == ImportStatus.UPLOADED
        # Started by someone working in English: the report's reasons are in English.
        response = client.post(reverse("imports:detail", args=[job.pk]), {**MAPPING, "start": "1"}, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 302
        job.refresh_from_db()
        assert job.status == ImportStatus.QUEUED and job.mapping["phone"] == "Teléfono" and job.language == "en"
        progress = client.get(reverse("imports:progress", args=[job.pk]))
        assert "hx-trigger" in progress.content.decode() and "HX-Refresh" not in progress
        import_job_run(job_id=job.pk)
        assert client.get(reverse("imports:progress", args=[job.pk]))["HX-Refresh"] == "true"
        page = client.get(reverse("imports:detail", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "This reference is already on an earlier line of the file." in page
        report = b"".join(client.get(reverse("imports:report", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en").streaming_content).decode("utf-8-sig")
    lines = report.splitlines()
    assert lines[0] == "Result,Line,Column,Value,Reason"
    # The rejections in file order, then the warnings (line 6's e-mail was imported as unusable).
    assert len(lines) == 8 and lines[1].startswith("Rejected,4,DNI/NIF,") and lines[5].startswith("Rejected,9,Saldo,")
    assert lines[6].startswith("Warning,6,Email,ana@example,") and lines[7].startswith("Warning,8,Teléfono,12,")


def test_the_saved_mapping_is_offered_next_time(client, admin_user, creditor, upload):
    client.force_login(admin_user)
    renamed = MESSY.replace("Referencia".encode("cp1252"), b"Clave interna")
    job = upload(renamed)
    assert "reference" not in job.mapping
    client.post(reverse("imports:detail", args=[job.pk]), {**MAPPING, "map_reference": "Clave interna"})
    assert upload(renamed).mapping["reference"] == "Clave interna"


def test_a_too_large_file_is_a_form_error(client, admin_user, creditor, settings):
    settings.CRM_IMPORT_MAX_BYTES = 100
    client.force_login(admin_user)
    response = client.post(reverse("imports:list"), {"creditor": creditor.pk, "kind": "portfolio",
                                                     "file": SimpleUploadedFile("big.csv", MESSY)}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and "the limit is 0 MB" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_list_page_query_budget(client, admin_user, upload, django_assert_max_num_queries):
    for _ in range(5):
        upload(MESSY)
    client.force_login(admin_user)
    # session, user, jobs with their creditors, creditors for the form, session renewal (3), watched
    # folders with their creditors, the folder form's creditors, agents and teams
    with django_assert_max_num_queries(11):
        assert client.get(reverse("imports:list")).status_code == 200
