"""What an attacker (or a broken export) meets at the upload: zip bombs, endless lines, NULs,
wrong encodings, damaged zips and random bytes, through the page form and the API alike.

Every answer is a page with a form error, a redirect to the new job, or a 400 with a message;
never a server error, and a bomb is refused at once (the zip directory is read, nothing is
inflated), not after the request's timeout.
"""

from __future__ import annotations

import codecs
import io
import time
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from openpyxl import Workbook

from collections_crm.api.services import api_token_create
from collections_crm.imports.models import ImportJob, ImportRowError, ImportStatus
from collections_crm.imports.services import import_job_run, import_job_start
from tests.imports.test_loader import MESSY

pytestmark = pytest.mark.django_db

HEADER = ["Referencia", "DNI", "Nombre", "Importe", "Vencimiento"]
GOOD_ROWS = [["EXP-1", "12345678Z", "Ana Gil", "100,00", "31/01/2025"], ["EXP-2", "87654321X", "Luis Paz", "50,00", "28/02/2025"]]


def workbook_bytes(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def with_big_cell(xlsx: bytes, *, size: int, filler: bytes = b"A") -> bytes:
    """The workbook with its first data row's name cell replaced by ``size`` bytes of filler,
    written as an inline string (so no shared-strings table is needed)."""
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                head, _sep, tail = data.partition(b'<c r="C2"')
                _cell, _sep, tail = tail.partition(b"</c>")
                with target.open(info.filename, "w", force_zip64=True) as member:
                    member.write(head + b'<c r="C2" t="inlineStr"><is><t>')
                    chunk = (filler * (1024 * 1024 // len(filler) + 1))[: 1024 * 1024]
                    for _ in range(size // len(chunk)):
                        member.write(chunk)
                    member.write(b"</t></is></c>" + tail)
            else:
                target.writestr(info, data)
    return out.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A real zip bomb: about 70 KB packed, 64 MB of one cell unpacked (a ratio near 1000)."""
    return with_big_cell(workbook_bytes([HEADER, *GOOD_ROWS]), size=64 * 1024 * 1024)


@pytest.fixture
def api_client(admin_user, creditor):
    from rest_framework.test import APIClient

    _token, raw = api_token_create(actor=admin_user, name="uploads", creditor=creditor, user=admin_user, can_write=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def page_upload(client, creditor, content: bytes, name: str = "cartera.csv"):
    return client.post(reverse("imports:list"), {"creditor": creditor.pk, "kind": "portfolio",
                                                 "file": SimpleUploadedFile(name, content)}, HTTP_ACCEPT_LANGUAGE="en")


def api_upload(api_client, creditor, content: bytes, name: str = "cartera.csv", **extra):
    return api_client.post("/api/v1/imports/", {"creditor": creditor.pk, "kind": "portfolio", "start": "false",
                                                "file": SimpleUploadedFile(name, content), **extra},
                           format="multipart", HTTP_ACCEPT_LANGUAGE="en")


def file_error(response) -> str:
    """The upload form's error for the file field (the page is re-rendered with it)."""
    assert response.status_code == 200, response.status_code
    errors = response.context["form"].errors
    assert errors, "expected a form error"
    return " ".join(errors.get("file", []) + errors.get("__all__", []))


def assert_clean_answer(response) -> None:
    """A redirect to the new job, the page with a form error, a 202, or a 400 with a message."""
    assert response.status_code in (200, 201, 202, 302, 400), response.status_code
    if response.status_code == 400:
        assert response.json().get("file"), response.json()
    elif response.status_code == 200 and response.get("Content-Type", "").startswith("text/html"):
        assert response.context["form"].errors


# --- The zip bomb ------------------------------------------------------------------------------


def test_a_zip_bomb_is_a_form_error_at_once(client, admin_user, creditor, bomb):
    client.force_login(admin_user)
    started = time.monotonic()
    response = page_upload(client, creditor, bomb, "bomba.xlsx")
    elapsed = time.monotonic() - started
    assert "it may be a zip bomb" in file_error(response)
    assert elapsed < 5  # refused from the zip directory (milliseconds), not after inflating 64 MB
    assert ImportJob.objects.count() == 0


def test_a_zip_bomb_is_a_400_in_the_api_at_once(api_client, creditor, bomb):
    started = time.monotonic()
    response = api_upload(api_client, creditor, bomb, "bomba.xlsx")
    elapsed = time.monotonic() - started
    assert response.status_code == 400 and "it may be a zip bomb" in response.json()["file"][0]
    assert elapsed < 5
    assert ImportJob.objects.count() == 0


def test_the_worker_fails_a_bomb_cleanly(admin_user, creditor, bomb):
    """A file that reached the worker without the upload's checks (an older upload, limits
    changed since) fails with the message; the task does not hang or crash."""
    job = ImportJob(creditor=creditor, kind="portfolio", original_name="bomba.xlsx", size=len(bomb), sha256="0" * 64,
                    file_format="xlsx", headers=HEADER, mapping={"reference": "Referencia", "document_number": "DNI",
                    "name": "Nombre", "original_amount": "Importe", "due_date": "Vencimiento"},
                    created_by=admin_user, created_at=timezone.now())
    job.file.save("bomba.xlsx", ContentFile(bomb), save=False)
    job.save()
    import_job_start(actor=admin_user, job_id=job.pk)
    started = time.monotonic()
    job = import_job_run(job_id=job.pk)
    assert time.monotonic() - started < 5
    assert job.status == ImportStatus.FAILED and "zip bomb" in job.failure and "Nothing was imported." in job.failure


def test_a_long_cell_that_compresses_moderately_is_refused_by_the_cell_limit(client, admin_user, creditor, settings):
    """Past the ratio check (raised here), the cell limit still stops the read: no cell is
    read whole once it is longer than a spreadsheet cell can be."""
    settings.CRM_IMPORT_MAX_XLSX_RATIO = 100_000
    client.force_login(admin_user)
    content = with_big_cell(workbook_bytes([HEADER, *GOOD_ROWS]), size=20 * 1024 * 1024)
    started = time.monotonic()
    error = file_error(page_upload(client, creditor, content, "celda.xlsx"))
    assert "holds more than 32767 characters" in error and time.monotonic() - started < 5


def test_too_many_zip_members_and_too_large_totals_are_refused(client, admin_user, creditor, settings):
    client.force_login(admin_user)
    xlsx = workbook_bytes([HEADER, *GOOD_ROWS])
    settings.CRM_IMPORT_MAX_XLSX_MEMBERS = 5
    assert "the limit is 5" in file_error(page_upload(client, creditor, xlsx, "partes.xlsx"))
    settings.CRM_IMPORT_MAX_XLSX_MEMBERS = 2000
    settings.CRM_IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES = 1000
    assert "it may be a zip bomb" in file_error(page_upload(client, creditor, xlsx, "grande.xlsx"))
    settings.CRM_IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES = None
    assert page_upload(client, creditor, xlsx, "buena.xlsx").status_code == 302  # the same file within the limits


def test_the_header_inspection_has_a_time_budget(client, admin_user, creditor, settings):
    settings.CRM_IMPORT_INSPECT_SECONDS = 0.0
    client.force_login(admin_user)
    assert "took more than 0 seconds" in file_error(page_upload(client, creditor, workbook_bytes([HEADER, *GOOD_ROWS]), "lento.xlsx"))


# --- CSV: endless lines, wide rows, NULs, encodings -------------------------------------------


def test_an_endless_line_and_a_row_of_a_million_cells_are_refused_quickly(client, admin_user, creditor):
    client.force_login(admin_user)
    started = time.monotonic()
    assert "longer than 1048576 characters" in file_error(page_upload(client, creditor, b"a" * (3 * 1024 * 1024)))
    assert "longer than 1048576 characters" in file_error(page_upload(client, creditor, b";" * (3 * 1024 * 1024)))
    assert "columns; the limit is 500" in file_error(page_upload(client, creditor, b"a;" * 400_000 + b"\n1;2\n"))
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("strategy", ["copy", "batch"])
def test_an_endless_line_below_the_inspected_rows_fails_the_job_with_its_message(strategy, settings, upload, run_job):
    """The upload reads the header and 200 rows; the worker meets the long line further down and
    fails the job with the reason (raised between COPY chunks, never inside one)."""
    settings.CRM_IMPORT_MAX_LINE_CHARS = 2000
    rows = [";".join(HEADER)] + [f"EXP-{n};12345678Z;Ana Gil;10,00;31/01/2025" for n in range(300)] + ["x" * 5000]
    job = run_job(upload(("\r\n".join(rows) + "\r\n").encode()), strategy=strategy)
    assert job.status == ImportStatus.FAILED and "Line 302 of the file is longer than 2000 characters" in job.failure
    assert "Nothing was imported." in job.failure


def test_a_utf16_file_of_zero_bytes_is_refused_with_a_message(client, admin_user, api_client, creditor):
    """It used to reach PostgreSQL as a header of NULs: "\\u0000 cannot be converted to text", a 500."""
    client.force_login(admin_user)
    content = codecs.BOM_UTF16_LE + b"\x00" * 4000
    assert "NUL characters" in file_error(page_upload(client, creditor, content))
    response = api_upload(api_client, creditor, content)
    assert response.status_code == 400 and "NUL characters" in response.json()["file"][0]
    assert ImportJob.objects.count() == 0


@pytest.mark.parametrize("strategy", ["copy", "batch"])
def test_a_nul_inside_a_good_csv_rejects_that_row_only(strategy, admin_user, creditor, upload, run_job):
    """The import's rule: a bad row gets a clear reason, the good rows are imported."""
    lines = [";".join(HEADER), ";".join(GOOD_ROWS[0]), "EXP-3;11111111H;Ma\x00la;10,00;31/01/2025", ";".join(GOOD_ROWS[1])]
    # (The first 8 KB are refused outright if they hold a zero byte: a binary file. Pad past them.)
    content = ("\r\n".join(lines[:2]) + "\r\n" + "\r\n" * 5000 + "\r\n".join(lines[2:]) + "\r\n").encode()
    job = run_job(upload(content), strategy=strategy)
    assert job.status == ImportStatus.DONE and job.rows_created == 2 and job.rows_rejected == 1
    error = ImportRowError.objects.get(job=job)
    assert error.line == 5003 and error.column == "Nombre" and "NUL character" in error.message and "\x00" not in error.value


@pytest.mark.parametrize("strategy", ["copy", "batch"])
def test_nuls_in_a_utf16_file_reject_rows_not_the_import(strategy, admin_user, creditor, upload, run_job):
    text = "\r\n".join([";".join(HEADER), ";".join(GOOD_ROWS[0]), "EXP-3;11111111H;Ma\x00la;10,00;31/01/2025"]) + "\r\n"
    job = run_job(upload(text.encode("utf-16")), strategy=strategy)
    assert job.status == ImportStatus.DONE and job.rows_created == 1 and job.rows_rejected == 1


def test_a_file_name_with_control_characters_is_stored_without_them(admin_user, creditor, upload):
    job = upload(MESSY, name="car\x00te\x07ra.csv")
    assert job.original_name == "cartera.csv"


# --- Garbage of every kind, through both doors ----------------------------------------------


def _garbage() -> dict[str, tuple[str, bytes]]:
    good_xlsx = workbook_bytes([HEADER, *GOOD_ROWS])
    return {
        "empty": ("a.csv", b""),
        "blank lines": ("a.csv", b"\r\n" * 1000),
        "one huge line": ("a.csv", b"x" * (2 * 1024 * 1024)),
        "a never closed quote": ("a.csv", b'Referencia;DNI\n"' + b"y" * 300_000),
        "NUL bytes": ("a.csv", b"\x00" * 10_000),
        "NULs after a header": ("a.csv", MESSY + b"\x00" * 20_000),
        "UTF-16 without BOM": ("a.csv", "Referencia;DNI;Nombre\r\n".encode("utf-16-le")),
        "UTF-16 BOM, odd bytes": ("a.csv", codecs.BOM_UTF16_LE + "Referencia;DNI;Nombre\r\n".encode("utf-16-le") + b"\x41"),
        "UTF-16 BOM, lone surrogate": ("a.csv", codecs.BOM_UTF16_LE + "Referencia;DNI\r\n".encode("utf-16-le") + b"\x00\xd8A\x00"),
        "UTF-8 BOM then cp1252": ("a.csv", codecs.BOM_UTF8 + MESSY),
        "latin-1 control bytes": ("a.csv", bytes(range(1, 256)) * 40),
        "truncated xlsx": ("a.xlsx", good_xlsx[: len(good_xlsx) // 2]),
        "xlsx without its end": ("a.xlsx", good_xlsx[:-30]),
        "zip that is no workbook": ("a.xlsx", _zip({"hello.txt": b"hi"})),
        "workbook of garbage XML": ("a.xlsx", _zip({"[Content_Types].xml": b"<not xml", "xl/workbook.xml": b"\x00\x01"})),
        "xls magic": ("a.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 2000),
        "ods": ("a.ods", b"PK\x03\x04" + b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet" + b"\x00" * 100),
        "many columns": ("a.csv", (";".join(f"c{i}" for i in range(2000)) + "\n").encode()),
        "deep quotes": ("a.csv", b'"' * 100_000),
        "sniffer bait": ("a.csv", (b',"' * 30_000) + b"\n"),
    }


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


GARBAGE = _garbage()


@pytest.mark.parametrize("label", list(GARBAGE))
def test_garbage_gets_a_clean_answer_from_the_page_and_the_api(label, client, admin_user, api_client, creditor):
    name, content = GARBAGE[label]
    client.force_login(admin_user)
    started = time.monotonic()
    assert_clean_answer(page_upload(client, creditor, content, name))
    assert_clean_answer(api_upload(api_client, creditor, content, name))
    assert time.monotonic() - started < 10


@given(content=st.one_of(
    st.binary(min_size=1, max_size=4096),
    st.binary(min_size=1, max_size=2048).map(lambda b: b"PK\x03\x04" + b),
    st.binary(min_size=1, max_size=2048).map(lambda b: codecs.BOM_UTF16_LE + b),
    st.text(min_size=1, max_size=2000).map(lambda t: ("Referencia;DNI;Nombre;Importe;Vencimiento\n" + t).encode("utf-8", "surrogatepass")),
))
@hypothesis_settings(max_examples=60, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_random_bytes_never_make_a_server_error(content, client, admin_user, api_client, creditor):
    client.force_login(admin_user)
    assert_clean_answer(page_upload(client, creditor, content))
    assert_clean_answer(api_upload(api_client, creditor, content, "random.xlsx" if content[:2] == b"PK" else "random.csv"))


@pytest.mark.parametrize("label", ["NULs after a header", "UTF-16 BOM, lone surrogate", "UTF-16 BOM, odd bytes"])
def test_what_passes_the_upload_fails_or_finishes_cleanly_on_the_worker(label, admin_user, creditor, upload, run_job):
    """Garbage the inspection let through (it reads only the first rows) ends as a finished or
    failed job with a message: never an unexpected error."""
    from django.core.exceptions import ValidationError

    name, content = GARBAGE[label]
    try:
        job = upload(content, name=name)
    except ValidationError:
        return
    job.mapping = {"reference": job.headers[0], "document_number": job.headers[1], "name": job.headers[-1],
                   "original_amount": job.headers[-1], "due_date": job.headers[-1]}
    job.save(update_fields=["mapping"])
    job = run_job(job)
    assert job.status in (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.REJECTED)
    assert "unexpected error" not in job.failure
