"""Portfolio and payment imports on messy real-world files: exact reports, upserts, audit,
all-or-nothing, and the COPY and row-batch paths giving the same result."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import translation
from openpyxl import Workbook

from cases.models import Case, Payment
from collections_crm.audit.models import AuditLog
from collections_crm.desk.selectors import case_timeline
from collections_crm.imports.models import ImportJob, ImportRowError, ImportStatus
from debtors.models import ContactPoint, Debtor
from debtors.validators import dni_for
from tests.factories import CaseFactory, DebtorFactory

pytestmark = pytest.mark.django_db

LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
DNI1, DNI2, DNI3 = dni_for(12345678), dni_for(23456789), dni_for(34567890)
NIE = "X1234567" + LETTERS[1234567 % 23]
BAD_DNI = DNI1[:-1] + ("A" if DNI1[-1] != "A" else "B")
only_pg = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="COPY and the set-based path are PostgreSQL features")

# Semicolons, Windows-1252, decimal commas with thousands dots, day-first dates, phones in
# national and international forms, trailing blanks, a blank line, and six bad rows.
MESSY = (
    "Referencia;DNI/NIF;Nombre;Teléfono;Email;Importe;Gastos;Saldo;Vencimiento \r\n"
    f"EXP-001;{DNI1};José Pérez Núñez  ;612 345 678;Jose@Example.com ;1.234,56;10,00;1.244,56;31/01/2025\r\n"
    f"EXP-002;{NIE.lower()};María Muñoz;+34 712-34-56-78;;500;0;;05/02/2025\r\n"
    f"EXP-003;{BAD_DNI};Dni Malo;;;100;;;01/01/2025\r\n"
    "\r\n"
    f"EXP-004;{DNI2};Ana Gil;0034 912 345 678;ana@example;2.000,00;;;15.03.2025\r\n"
    f"EXP-001;{DNI3};Repetido;;;10;;;01/01/2025\r\n"
    f"EXP-005;{DNI3};Luis Gil;12;;abc;;;31/02/2025\r\n"
    f"EXP-006;{DNI3};Luis Gil;;;300,00;;400,00;01/01/2025\r\n"
    f"EXP-007;{DNI3};Luis Gil;600 000 001;;75,5;;;2025-06-30   \r\n"
).encode("cp1252")


def errors_of(job):
    """The rejections of the report."""
    return [(e.line, e.column, e.message) for e in ImportRowError.objects.filter(job=job, severity="rejected").order_by("line", "id")]


def warnings_of(job):
    """The warnings of the report (values imported as unusable)."""
    return [(e.line, e.column, e.value, e.message) for e in ImportRowError.objects.filter(job=job, severity="warning").order_by("line", "id")]


BAD_PHONE = "Not a valid phone number: kept on the debtor as an unusable contact detail."
BAD_EMAIL = "Not a valid e-mail address: kept on the debtor as an unusable contact detail."


def test_messy_file_is_detected_and_mapped(upload):
    job = upload(MESSY)
    assert (job.encoding, job.delimiter, job.decimal_comma, job.file_format) == ("cp1252", ";", True, "csv")
    assert job.mapping == {"reference": "Referencia", "document_number": "DNI/NIF", "name": "Nombre", "phone": "Teléfono",
                           "email": "Email", "original_amount": "Importe", "fees": "Gastos", "balance": "Saldo",
                           "due_date": "Vencimiento"}


@pytest.mark.parametrize("strategy", ["batch", pytest.param("copy", marks=only_pg)])
def test_messy_file_report_lists_every_rejected_row(upload, run_job, creditor, admin_user, strategy):
    with translation.override("en"):
        job = run_job(upload(MESSY), strategy=strategy)
        assert job.status == ImportStatus.DONE
        assert errors_of(job) == [
            (4, "DNI/NIF", "This is not a valid DNI number."),
            (7, "Referencia", "This reference is already on an earlier line of the file."),
            (8, "Importe", "Not an amount."),
            (8, "Vencimiento", "Not a date (use day/month/year or year-month-day)."),
            (9, "Saldo", "The balance is larger than the amount plus fees."),
        ]
        # A bad contact detail never costs the debt: line 6 is imported, its e-mail kept as unusable.
        # (Line 8's phone is reported too, though the line is rejected for its amount and date.)
        assert warnings_of(job) == [(6, "Email", "ana@example", BAD_EMAIL), (8, "Teléfono", "12", BAD_PHONE)]
    assert (job.rows_total, job.rows_created, job.rows_updated, job.rows_unchanged, job.rows_rejected, job.rows_warned) == (8, 4, 0, 0, 4, 1)
    cases = {c.reference: c for c in Case.objects.filter(creditor=creditor).select_related("debtor")}
    assert sorted(cases) == ["EXP-001", "EXP-002", "EXP-004", "EXP-007"]
    first = cases["EXP-001"]
    assert (first.original_amount, first.fees, first.balance, first.due_date) == (Decimal("1234.56"), Decimal("10.00"), Decimal("1244.56"), dt.date(2025, 1, 31))
    assert (first.status, first.objective, first.version, first.next_action_note) == ("new", "remind", 1, {"code": "first_contact"})
    assert first.debtor.name == "José Pérez Núñez" and first.debtor.document_type == "dni"
    assert cases["EXP-002"].debtor.document_number == NIE and cases["EXP-002"].balance == Decimal("500.00")
    assert cases["EXP-007"].balance == Decimal("75.50") and cases["EXP-007"].due_date == dt.date(2025, 6, 30)
    points = set(ContactPoint.objects.values_list("debtor__document_number", "kind", "value", "unusable_reason"))
    assert points == {(DNI1, "phone", "+34612345678", ""), (DNI1, "email", "jose@example.com", ""), (NIE, "phone", "+34712345678", ""),
                      (DNI3, "phone", "+34600000001", ""), (DNI2, "phone", "+34912345678", ""),
                      (DNI2, "email", "ana@example", "Not a valid e-mail address (as imported)")}
    # Each new case has its own slim row (its timeline says which import and line created it); the
    # debtors and contact points are named, by id, in one row for the whole import.
    audit = AuditLog.objects.filter(actor=admin_user)
    assert {(a.object_id, a.case_id, a.after["line"], a.after["import_job"]) for a in audit.filter(action="case.created")} == {
        (str(c.pk), c.pk, line, job.pk) for c, line in ((first, 2), (cases["EXP-002"], 3), (cases["EXP-004"], 6), (cases["EXP-007"], 10))}
    assert not audit.filter(action__in=["debtor.created", "contact_point.added"]).exists()
    with translation.override("en"):
        _page, timeline = case_timeline(case=cases["EXP-007"])
        assert [(e.action, str(e.title), e.summary) for e in timeline] == [
            ("case.created", "Case created", f"Created by import #{job.pk}, line 10")]
    batch = audit.get(action="import.records_created")
    assert (batch.object_type, batch.object_id, batch.case_id) == ("imports.importjob", str(job.pk), None)
    assert (batch.after["file"], batch.after["creditor_id"]) == ("cartera.csv", creditor.pk)
    for kind, model, count in (("debtors", Debtor, 4), ("contact_points", ContactPoint, 6), ("cases", Case, 4)):
        ids = [pk for first_id, last_id in batch.after[kind]["ids"] for pk in range(first_id, last_id + 1)]
        assert batch.after[kind]["count"] == count and sorted(ids) == sorted(model.objects.values_list("pk", flat=True))


@pytest.mark.parametrize("strategy", ["batch", pytest.param("copy", marks=only_pg)])
def test_reimport_is_a_no_op_and_a_new_balance_is_an_audited_update(upload, run_job, creditor, strategy):
    run_job(upload(MESSY), strategy=strategy)
    before = (Case.objects.count(), Debtor.objects.count(), ContactPoint.objects.count(), AuditLog.objects.exclude(object_type="imports.importjob").count())
    again = run_job(upload(MESSY), strategy=strategy)
    assert (again.rows_created, again.rows_updated, again.rows_unchanged, again.rows_rejected) == (0, 0, 4, 4)
    assert (Case.objects.count(), Debtor.objects.count(), ContactPoint.objects.count(),
            AuditLog.objects.exclude(object_type="imports.importjob").count()) == before

    changed = MESSY.replace(b"1.244,56", b"1.000,00")
    third = run_job(upload(changed), strategy=strategy)
    assert (third.rows_created, third.rows_updated, third.rows_unchanged) == (0, 1, 3)
    case = Case.objects.get(creditor=creditor, reference="EXP-001")
    assert case.balance == Decimal("1000.00") and case.version == 2
    row = AuditLog.objects.get(action="case.balance_imported", case_id=case.pk)
    assert row.before == {"balance": "1244.56"} and row.after == {"balance": "1000.00", "import_job": third.pk}


def test_all_or_nothing_imports_nothing_but_reports_everything(upload, run_job):
    job = upload(MESSY, all_or_nothing=True)
    job = run_job(job)
    assert job.status == ImportStatus.REJECTED
    assert job.rows_rejected == 4 and len(errors_of(job)) == 5 and len(warnings_of(job)) == 2
    assert Case.objects.count() == 0 and Debtor.objects.count() == 0 and ContactPoint.objects.count() == 0


def test_conflicts_with_the_database_are_rejected(upload, run_job, creditor):
    other = DebtorFactory(document_number=DNI2)
    CaseFactory(creditor=creditor, reference="EXP-1", debtor=other, original_amount=Decimal("100.00"), balance=Decimal("100.00"))
    CaseFactory(creditor=creditor, reference="EXP-2", debtor=other, original_amount=Decimal("100.00"), balance=Decimal("0.00"), status="paid")
    CaseFactory(creditor=creditor, reference="EXP-3", debtor=other, original_amount=Decimal("100.00"), balance=Decimal("100.00"))
    content = (
        "reference,document,name,amount,balance,due date\n"
        f"EXP-1,{DNI1},Otro,100,50,2025-01-01\n"  # the case belongs to another debtor
        f"EXP-2,{DNI2},Same,100,10,2025-01-01\n"  # paid: the balance cannot come back
        f"EXP-3,{DNI2},Same,500,300,2025-01-01\n"  # above the case's amount plus fees
    ).encode()
    with translation.override("en"):
        job = upload(content)
        job.mapping = {"reference": "reference", "document_number": "document", "name": "name", "original_amount": "amount",
                       "balance": "balance", "due_date": "due date"}
        job.save()
        job = run_job(job)
        assert errors_of(job) == [
            (2, "reference", "This reference belongs to a case of another debtor."),
            (3, "reference", "The case is closed; its balance cannot change."),
            (4, "reference", "The new balance is larger than the case's amount plus fees."),
        ]
    assert job.rows_updated == 0 and set(Case.objects.values_list("balance", flat=True)) == {Decimal("100.00"), Decimal("0.00")}


def _xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_xlsx_with_typed_cells(upload, run_job, creditor):
    content = _xlsx([
        [],
        ["Expediente", "NIF", "Nombre", "Móvil", "Importe", "Vencimiento"],
        ["X-1", DNI1, "Ana", 612345678, 1234.5, dt.datetime(2025, 1, 31)],
        [1001.0, DNI2, "Luis", "+34 712 345 678", "99,90", "01/02/2025"],
        ["X-3", DNI3, "Eva", None, -5, dt.datetime(2025, 1, 31)],
    ])
    job = upload(content, name="cartera.xlsx")
    assert job.file_format == "xlsx" and job.headers[0] == "Expediente"
    with translation.override("en"):
        job = run_job(job)
        assert errors_of(job) == [(5, "Importe", "An amount cannot be negative.")]
    cases = dict(Case.objects.values_list("reference", "balance"))
    assert cases == {"X-1": Decimal("1234.50"), "1001": Decimal("99.90")}


def test_the_sheet_that_holds_the_data_is_read(upload, run_job):
    """A summary sheet in front of the detail: the detail sheet is the one imported."""
    book = Workbook()
    summary = book.active
    summary.title = "Resumen"
    for row in (["Cartera octubre 2026"], ["Expedientes", 2], ["Importe total", 300.5]):
        summary.append(row)
    detail = book.create_sheet("Detalle")
    for row in (["Expediente", "NIF", "Nombre", "Importe", "Vencimiento"],
                ["S-1", DNI1, "Ana", 100, dt.datetime(2025, 1, 31)], ["S-2", DNI2, "Luis", 200.5, dt.datetime(2025, 2, 28)]):
        detail.append(row)
    buf = io.BytesIO()
    book.save(buf)
    job = upload(buf.getvalue(), name="cartera.xlsx")
    assert job.headers == ["Expediente", "NIF", "Nombre", "Importe", "Vencimiento"]
    from collections_crm.imports.services import import_job_preview

    assert [row["cells"][4] for row in import_job_preview(job=job)] == [dt.date(2025, 1, 31), dt.date(2025, 2, 28)]
    job = run_job(job)
    assert errors_of(job) == [] and dict(Case.objects.values_list("reference", "balance")) == {
        "S-1": Decimal("100.00"), "S-2": Decimal("200.50")}


@pytest.mark.parametrize("name", ["cartera.xlsx", "cartera.csv"])
def test_a_title_above_the_header_row_is_skipped(upload, run_job, name):
    """Creditors' sheets open with a title, a date and notes; the header is the row that names the columns."""
    rows = [
        ["Cartera cedida - octubre 2026"],
        [],
        ["Generado el 31/10/2026", None, None, "Confidencial"],
        ["Nº Expediente", "NIF/NIE", "Titular", "Importe deuda", "Fecha vencimiento"],
        ["T-1", DNI1, "Ana Gil", "100,00", "31/01/2025"],
        ["T-2", DNI2, "Luis Gil", "", "31/01/2025"],
    ]
    if name.endswith("xlsx"):
        content = _xlsx(rows)
    else:
        content = "\r\n".join(";".join("" if c is None else str(c) for c in row) for row in rows).encode("cp1252")
    job = upload(content, name=name)
    assert job.headers == ["Nº Expediente", "NIF/NIE", "Titular", "Importe deuda", "Fecha vencimiento"]
    assert job.mapping == {"reference": "Nº Expediente", "document_number": "NIF/NIE", "name": "Titular",
                           "original_amount": "Importe deuda", "due_date": "Fecha vencimiento"}
    with translation.override("en"):
        job = run_job(job)
        assert errors_of(job) == [(6, "Importe deuda", "This column is required.")]  # lines count from the sheet's top
    assert list(Case.objects.values_list("reference", flat=True)) == ["T-1"]


@pytest.mark.parametrize(
    "name,content,message",
    [("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "This is an Excel 97-2003 workbook (.xls): save it as .xlsx or CSV"),
     ("cartera.ods", b"PK\x03\x04" + bytes(26) + b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet" + bytes(100),
      "This is an OpenDocument spreadsheet (.ods): save it as .xlsx or CSV"),
     ("cartera.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 4, "This is not a CSV or XLSX file.")],
)
def test_other_file_formats_are_refused_with_what_to_do(upload, name, content, message):
    from django.core.exceptions import ValidationError

    with translation.override("en"), pytest.raises(ValidationError) as info:
        upload(content, name=name)
    assert info.value.message_dict["file"][0].startswith(message)
    assert not ImportJob.objects.exists()


def test_excels_unicode_text_export_is_read(upload, run_job):
    """Excel's "Unicode text": UTF-16 with its BOM, tab separated."""
    content = ("Referencia\tDNI\tNombre\tImporte\tVencimiento\r\n"
               f"U-1\t{DNI1}\tJosé Núñez\t1.234,56\t31/01/2025\r\n").encode("utf-16")
    job = upload(content, name="cartera.txt")
    assert (job.encoding, job.delimiter, job.headers[0]) == ("utf-16", "\t", "Referencia")
    job = run_job(job)
    assert errors_of(job) == [] and job.rows_created == 1
    case = Case.objects.select_related("debtor").get()
    assert (case.reference, case.debtor.name, case.original_amount) == ("U-1", "José Núñez", Decimal("1234.56"))


def test_files_over_the_limit_are_refused(upload, settings):
    from django.core.exceptions import ValidationError

    settings.CRM_IMPORT_MAX_BYTES = 100
    with pytest.raises(ValidationError) as info:
        upload(MESSY)
    assert "limit" in str(info.value.message_dict["file"][0]) or "límite" in str(info.value.message_dict["file"][0])


def test_too_many_rows_fails_cleanly(upload, run_job, settings):
    settings.CRM_IMPORT_MAX_ROWS = 3
    job = run_job(upload(MESSY))
    assert job.status == ImportStatus.FAILED and "3" in job.failure
    assert Case.objects.count() == 0


def test_running_twice_imports_once(upload, run_job):
    from collections_crm.imports.services import import_job_run

    job = run_job(upload(MESSY))
    assert import_job_run(job_id=job.pk) is None  # already claimed and finished
    assert Case.objects.count() == 4


@pytest.mark.parametrize("strategy", ["batch", pytest.param("copy", marks=only_pg)])
def test_a_cell_with_several_phones_gives_one_contact_point_each(upload, run_job, strategy):
    content = (
        "Referencia;DNI;Nombre;Teléfono;Importe;Vencimiento\r\n"
        f"P-1;{DNI1};Ana Gil;612 345 678 / 912 345 678;10;31/01/2025\r\n"
        f"P-2;{DNI1};Ana Gil;612345678.0;10;31/01/2025\r\n"  # the same number, once through a float
        f"P-3;{DNI2};Luis Gil;\"612345679; 91 234 56 78 y 712345678\";10;31/01/2025\r\n"
        f"P-4;{DNI3};Eva Gil;612345670 / 12;10;31/01/2025\r\n"
    ).encode("cp1252")
    with translation.override("en"):
        job = run_job(upload(content), strategy=strategy)
        # P-4's cell does not split into numbers ("12" may be the end of one): kept whole, unusable.
        assert errors_of(job) == [] and warnings_of(job) == [(5, "Teléfono", "612345670 / 12", BAD_PHONE)]
    assert sorted(ContactPoint.objects.values_list("debtor__document_number", "value", "unusable_reason")) == sorted([
        (DNI1, "+34612345678", ""), (DNI1, "+34912345678", ""), (DNI2, "+34612345679", ""), (DNI2, "+34912345678", ""),
        (DNI2, "+34712345678", ""), (DNI3, "612345670 / 12", "Not a valid phone number (as imported)")])


@pytest.mark.parametrize("strategy", ["batch", pytest.param("copy", marks=only_pg)])
def test_a_landline_column_beside_the_mobile(upload, run_job, strategy):
    content = (
        "Referencia;DNI;Nombre;Móvil;Teléfono fijo;Importe;Vencimiento\r\n"
        f"L-1;{DNI1};Ana Gil;612 345 678;912 345 678;10;31/01/2025\r\n"
        f"L-2;{DNI2};Luis Gil;;912 345 679;10;31/01/2025\r\n"
        f"L-3;{DNI3};Eva Gil;612345670;12;10;31/01/2025\r\n"
    ).encode("cp1252")
    job = upload(content)
    assert (job.mapping["phone"], job.mapping["phone_other"]) == ("Móvil", "Teléfono fijo")
    with translation.override("en"):
        job = run_job(job, strategy=strategy)
        assert errors_of(job) == [] and warnings_of(job) == [(4, "Teléfono fijo", "12", BAD_PHONE)]
    assert sorted(ContactPoint.objects.filter(unusable_reason="").values_list("debtor__document_number", "value")) == sorted([
        (DNI1, "+34612345678"), (DNI1, "+34912345678"), (DNI2, "+34912345679"), (DNI3, "+34612345670")])


@pytest.mark.parametrize("strategy", ["batch", pytest.param("copy", marks=only_pg)])
def test_imported_phones_give_the_debtors_candidate_zones(upload, run_job, strategy):
    dni4, dni5 = dni_for(45678901), dni_for(56789012)
    DebtorFactory(document_number=dni4, name="Sin zonas aún")  # candidates not worked out yet
    DebtorFactory(document_number=dni5, name="Zona confirmada", timezone_confirmed=True, candidate_timezones="Europe/Madrid")
    content = (
        "Referencia;DNI;Nombre;Teléfono;Importe;Vencimiento\r\n"
        f"Z-1;{DNI1};Ana Gil;912 345 678;10;31/01/2025\r\n"  # Madrid
        f"Z-2;{DNI1};Ana Gil;612 345 678;10;31/01/2025\r\n"  # a mobile, on the debtor's second line
        f"Z-3;{DNI2};Luis Gil;;10;31/01/2025\r\n"
        f"Z-4;{DNI3};Eva Gil;+1 212 555 0123;10;31/01/2025\r\n"  # New York
        f"Z-5;{dni4};Sin zonas aún;712 345 678;10;31/01/2025\r\n"
        f"Z-6;{dni5};Zona confirmada;+1 415 555 0123;10;31/01/2025\r\n"
    ).encode("cp1252")
    expected = {
        DNI1: "Europe/Madrid",  # a Spanish mobile (Madrid or the Canaries) agrees with the recorded Madrid
        DNI2: "Europe/Madrid",
        DNI3: "America/New_York,Europe/Madrid",
        dni4: "Europe/Madrid",
        dni5: "Europe/Madrid",
    }
    job = run_job(upload(content), strategy=strategy)
    assert (job.rows_created, job.rows_rejected) == (6, 0)
    assert dict(Debtor.objects.values_list("document_number", "candidate_timezones")) == expected
    # Again: nothing changes.
    again = run_job(upload(content), strategy=strategy)
    assert again.rows_unchanged == 6
    assert dict(Debtor.objects.values_list("document_number", "candidate_timezones")) == expected


@pytest.mark.parametrize("total", ["TOTAL;;;;3.734,56", "Totales:;;;;3.734,56", ";;;Total;3.734,56"])
def test_a_totals_line_under_the_data_is_not_a_row(upload, run_job, total):
    """Even "all or nothing" imports a file that ends with its sum."""
    content = (
        "Referencia;DNI;Nombre;Importe;Vencimiento\r\n"
        f"T-1;{DNI1};Ana Gil;1.234,56;31/01/2025\r\n"
        f"T-2;{DNI2};Luis Gil;2.500,00;31/01/2025\r\n"
        f"{total}\r\n"
    ).encode("cp1252")
    job = run_job(upload(content, all_or_nothing=True))
    assert (job.status, job.rows_total, job.rows_created, job.rows_rejected) == (ImportStatus.DONE, 2, 2, 0)


@pytest.mark.parametrize("strategy", ["batch", pytest.param("copy", marks=only_pg)])
def test_a_dni_that_lost_its_leading_zero_is_the_same_debtor(upload, run_job, strategy):
    known = DebtorFactory(document_type="dni", document_number=dni_for(1234567), name="Ana Gil")
    assert known.document_number.startswith("0")
    content = (
        "Referencia;DNI;Nombre;Importe;Vencimiento\r\n"
        f"Z-1;{known.document_number[1:]};Ana Gil;10;31/01/2025\r\n"
        f"Z-2;1234567{'A' if known.document_number[-1] != 'A' else 'B'};Otra;10;31/01/2025\r\n"  # wrong letter: not a DNI
    ).encode("cp1252")
    job = run_job(upload(content), strategy=strategy)
    assert job.rows_created == 2 and Case.objects.get(reference="Z-1").debtor_id == known.pk
    assert Case.objects.get(reference="Z-2").debtor.document_type == "other"


def test_a_repeated_column_name_is_told_apart(upload, run_job):
    content = (
        "Referencia;DNI;Nombre;Teléfono;Teléfono;Importe;Vencimiento\r\n"
        f"D-1;{DNI1};Ana Gil;612 345 678;912 345 678;10;31/01/2025\r\n"
    ).encode("cp1252")
    job = upload(content)
    assert job.headers[3:5] == ["Teléfono", "Teléfono (2)"]
    assert (job.mapping["phone"], job.mapping["phone_other"]) == ("Teléfono", "Teléfono (2)")
    run_job(job)
    assert sorted(ContactPoint.objects.values_list("value", flat=True)) == ["+34612345678", "+34912345678"]


@only_pg
def test_copy_and_batch_paths_give_identical_results(upload, run_job, creditor):
    # An existing debtor and case, so both paths also update and reuse.
    DebtorFactory(document_number=DNI3, name="Luis Gil (ya existente)")
    existing = CaseFactory(creditor=creditor, reference="EXP-007", debtor=Debtor.objects.get(document_number=DNI3),
                           original_amount=Decimal("100.00"), balance=Decimal("100.00"))
    results = {}
    for strategy in ("copy", "batch"):
        sid = transaction.savepoint()
        job = run_job(upload(MESSY), strategy=strategy)
        results[strategy] = _dump(job, creditor)
        transaction.savepoint_rollback(sid)
    assert results["copy"] == results["batch"]
    assert results["copy"]["counts"] == (8, 3, 1, 0, 4, 1)
    assert existing.pk


def _dump(job, creditor):
    def strip_ids(data):
        return {k: v for k, v in (data or {}).items() if not k.endswith("_id") and k != "import_job"}

    with connection.cursor():
        pass
    return {
        "counts": (job.rows_total, job.rows_created, job.rows_updated, job.rows_unchanged, job.rows_rejected, job.rows_warned),
        "errors": errors_of(job), "warnings": warnings_of(job),
        "debtors": sorted(Debtor.objects.values_list("document_type", "document_number", "name", "kind", "country", "timezone", "language")),
        "points": sorted(ContactPoint.objects.values_list("debtor__document_number", "kind", "value", "is_primary", "verified",
                                                          "unusable_reason")),
        "cases": sorted(Case.objects.filter(creditor=creditor).values_list(
            "reference", "debtor__document_number", "original_amount", "fees", "balance", "currency", "due_date", "placed_at",
            "status", "objective", "version", "next_action_note")),
        "audit": sorted((a.action, a.object_type, sorted(strip_ids(a.before).items()), sorted(strip_ids(a.after).items()))
                        for a in AuditLog.objects.exclude(object_type="imports.importjob")),
    }


PAYMENTS = (
    "Fecha valor\tConcepto\tImporte\tReferencia banco\n"
    "01/02/2025\tEXP-001\t100,00\tTRF-1\n"
    "01/02/2025\tEXP-001\t100,00\tTRF-1\n"  # the same payment twice in a day is two payments
    "02/02/2025\tNOPE\t10,00\tTRF-2\n"
    "03/02/2025\tEXP-002\t9.999,00\tTRF-3\n"
    "03/02/2099\tEXP-002\t1,00\tTRF-4\n"
).encode("utf-8-sig")


def test_payments_file_matches_by_reference_and_reimport_posts_nothing(upload, run_job, creditor):
    CaseFactory(creditor=creditor, reference="EXP-001", original_amount=Decimal("500.00"), balance=Decimal("500.00"))
    CaseFactory(creditor=creditor, reference="EXP-002", original_amount=Decimal("500.00"), balance=Decimal("500.00"))
    with translation.override("en"):
        job = upload(PAYMENTS, kind="payments", name="banco.tsv")
        assert job.delimiter == "\t" and job.encoding == "utf-8-sig"
        assert job.mapping == {"reference": "Concepto", "amount": "Importe", "received_on": "Fecha valor", "payment_reference": "Referencia banco"}
        job = run_job(job)
        assert errors_of(job) == [
            (4, "Concepto", "No case of this creditor has this reference."),
            (5, "Importe", "The payment (9,999.00 €) is larger than the balance (500.00 €)."),
            (6, "Fecha valor", "A payment cannot be received in the future."),
        ]
    assert (job.rows_total, job.rows_created, job.rows_unchanged, job.rows_rejected) == (5, 2, 0, 3)
    assert Case.objects.get(reference="EXP-001").balance == Decimal("300.00")
    assert AuditLog.objects.filter(action="payment.posted").count() == 2
    again = run_job(upload(PAYMENTS, kind="payments", name="banco.tsv"))
    assert (again.rows_created, again.rows_unchanged) == (0, 2)
    assert Payment.objects.count() == 2 and Case.objects.get(reference="EXP-001").balance == Decimal("300.00")


BANK_STATEMENT = (
    "Cuenta;ES12 3456 7890 1234 5678 9012\r\n"
    "Titular;Acme Cobros SL\r\n"
    "Periodo;01/02/2025 - 28/02/2025\r\n"
    "\r\n"
    "Fecha operación;Fecha valor;Concepto;Importe;Saldo\r\n"
    "03/02/2025;03/02/2025;TRANSF. JUAN PEREZ exp-001 FEBRERO;50,00;1.050,00\r\n"
    "04/02/2025;04/02/2025;PAGO EXP-001 Y EXP-002;20,00;1.070,00\r\n"
    "05/02/2025;05/02/2025;RECIBO LUZ;30,00;1.100,00\r\n"
    "06/02/2025;06/02/2025;EXP-002;10,00;1.110,00\r\n"
).encode("cp1252")


@pytest.mark.parametrize("strategy", ["batch", pytest.param("copy", marks=only_pg)])
def test_a_bank_statement_names_the_case_in_its_concept(upload, run_job, creditor, strategy):
    """Below the account's details, the concept names the case among other words."""
    CaseFactory(creditor=creditor, reference="EXP-001", original_amount=Decimal("500.00"), balance=Decimal("500.00"))
    CaseFactory(creditor=creditor, reference="EXP-002", original_amount=Decimal("500.00"), balance=Decimal("500.00"))
    with translation.override("en"):
        job = upload(BANK_STATEMENT, kind="payments", name="extracto.csv")
        assert job.mapping == {"reference": "Concepto", "amount": "Importe", "received_on": "Fecha valor"}
        job = run_job(job, strategy=strategy)
        assert errors_of(job) == [
            (7, "Concepto", "More than one case of this creditor is named here."),
            (8, "Concepto", "No case of this creditor has this reference."),
        ]
    assert dict(Case.objects.values_list("reference", "balance")) == {"EXP-001": Decimal("450.00"), "EXP-002": Decimal("490.00")}
    again = run_job(upload(BANK_STATEMENT, kind="payments", name="extracto.csv"), strategy=strategy)
    assert (again.rows_created, again.rows_unchanged, again.rows_rejected) == (0, 2, 2)
    assert Payment.objects.count() == 2


def test_imported_cases_are_handed_to_the_follow_up_engine(upload, run_job, creditor):
    from collections_crm.imports.services import import_job_plan_cases
    from contacts.models import FollowUp

    job = run_job(upload(MESSY))
    assert FollowUp.objects.count() == 0
    assert import_job_plan_cases(job_id=job.pk) == 4
    assert set(FollowUp.objects.values_list("case__reference", flat=True)) == {"EXP-001", "EXP-002", "EXP-004", "EXP-007"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["portfolio", "payments"])
def test_the_staging_table_goes_with_the_transaction_that_finishes_the_job(upload, run_job, creditor, monkeypatch, kind):
    """A worker killed right after the finishing commit leaves nothing behind: the drop is part
    of that transaction, not a step after it."""
    from collections_crm.imports.loader import Stage

    drops = []
    real_drop = Stage.drop

    def drop(self):
        drops.append(connection.in_atomic_block)
        real_drop(self)

    monkeypatch.setattr(Stage, "drop", drop)
    if kind == "payments":
        CaseFactory(creditor=creditor, reference="EXP-001", original_amount=Decimal("500.00"), balance=Decimal("500.00"))
        CaseFactory(creditor=creditor, reference="EXP-002", original_amount=Decimal("500.00"), balance=Decimal("500.00"))
    job = run_job(upload(PAYMENTS if kind == "payments" else MESSY, kind=kind, name="f.tsv" if kind == "payments" else "f.csv"))
    assert job.status == ImportStatus.DONE and job.rows_created == (2 if kind == "payments" else 4)
    assert drops and drops[0] is True  # first dropped inside the finishing transaction
    assert f"imports_stage_{job.pk}" not in connection.introspection.table_names()


@pytest.mark.parametrize("strategy", ["batch", pytest.param("copy", marks=only_pg)])
def test_identity_answers_are_read_in_the_files_date_format_and_a_bad_one_is_a_warning(upload, run_job, strategy):
    """The portal's identity answers: the postal code and date of birth under their usual column
    names; a date that cannot be a birth date leaves the debtor without it, with a warning."""
    dni4 = dni_for(45678901)
    content = (
        "Referencia;DNI;Nombre;Importe;Vencimiento;Código postal;Fecha de nacimiento\r\n"
        f"I-1;{DNI1};Ana Gil;10;31/01/2025;28013;05/03/1985\r\n"
        f"I-2;{DNI2};Luis Gil;10;31/01/2025;8001;5/3/65\r\n"
        f"I-3;{DNI3};Eva Gil;10;31/01/2025;;01/01/2999\r\n"
        f"I-4;{dni4};Pau Gil;10;31/01/2025;1234567890123;mañana\r\n"
    ).encode()
    job = upload(content)
    assert (job.mapping["postal_code"], job.mapping["birth_date"]) == ("Código postal", "Fecha de nacimiento")
    with translation.override("en"):
        job = run_job(job, strategy=strategy)
        assert errors_of(job) == []
        assert [(line, column, value) for line, column, value, _m in warnings_of(job)] == [
            (4, "Fecha de nacimiento", "01/01/2999"), (5, "Código postal", "1234567890123"), (5, "Fecha de nacimiento", "mañana")]
    answers = dict((d.document_number, (d.postal_code, d.birth_date)) for d in Debtor.objects.all())
    assert answers[DNI1] == ("28013", dt.date(1985, 3, 5))
    assert answers[DNI2] == ("08001", dt.date(1965, 3, 5))  # the zero a spreadsheet drops; a two-digit year in the past
    assert answers[DNI3] == ("", None) and answers[dni4] == ("", None)
    assert Case.objects.count() == 4  # a bad answer never costs the debt


@pytest.mark.parametrize(("header", "target"), [
    ("CP", "postal_code"), ("Postal code", "postal_code"), ("ZIP", "postal_code"), ("Cód. postal", "postal_code"),
    ("Fecha nacimiento", "birth_date"), ("Date of birth", "birth_date"), ("DOB", "birth_date"), ("F. nacimiento", "birth_date"),
])
def test_identity_answer_columns_are_recognised(header, target):
    from collections_crm.imports.rows import suggest_mapping

    headers = ["Referencia", "DNI", "Nombre", "Importe", "Vencimiento", "Dirección", header]
    assert suggest_mapping("portfolio", headers).get(target) == header
