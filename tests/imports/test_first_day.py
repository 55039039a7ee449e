"""#19, a creditor's real file on the first day: a bad contact detail is a warning that costs no
debt, one amount column is enough, a creditor column says whose debt each row is, imported cases
are assigned, and the same import runs headless (the import_file command, a watched folder)."""

from __future__ import annotations

import datetime as dt
import json
import os
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection  # noqa: F401 - only_pg's condition is evaluated in this module
from django.utils import translation

from cases.models import Case, Creditor
from collections_crm.accounts.models import Role
from collections_crm.audit.models import AuditLog
from collections_crm.imports.folders import folders_poll
from collections_crm.imports.loader import level_quotas
from collections_crm.imports.models import ImportJob, ImportStatus, WatchedFolder
from collections_crm.imports.services import import_job_configure
from debtors.models import ContactPoint
from debtors.validators import dni_for
from tests.factories import CaseFactory, CreditorFactory, TeamFactory, UserFactory

from .test_loader import BAD_EMAIL, BAD_PHONE, _xlsx, errors_of, only_pg, warnings_of

pytestmark = pytest.mark.django_db

DNIS = [dni_for(10000000 + i) for i in range(12)]
WRONG_LETTER = DNIS[3][:-1] + ("A" if DNIS[3][-1] != "A" else "B")

# What a creditor really sends: Windows-1252, ";", decimal commas, day-first dates, one amount
# column, mixed phone forms, a phone the library calls possible but not valid, bad e-mails.
SINGLE_AMOUNT = (
    "Nº Expediente;DNI;Nombre y apellidos;Teléfono;Correo;Importe pendiente;Fecha vencimiento\r\n"
    f"E-1;{DNIS[0]};José Pérez;612 345 678;jose@example.com;1.200,50;31/01/2025\r\n"
    f"E-2;{DNIS[1]};Ana Gil;+34 612 34;ana@@example;300,00;01/02/2025\r\n"  # too short a phone, a malformed e-mail
    f"E-3;{DNIS[2]};Luis Mar;0034 912 345 678;luis.example.com;75,25;15/02/2025\r\n"
    f"E-4;{WRONG_LETTER};Eva Sol;;;10,00;15/02/2025\r\n"  # a bad document: rejected
    f"E-5;{DNIS[4]};Rosa Paz;+1 200 555 0100;;;15/02/2025\r\n"  # no amount: rejected; the US number is not valid
).encode("cp1252")


@pytest.mark.parametrize("strategy", ["batch", pytest.param("copy", marks=only_pg)])
def test_one_amount_column_and_bad_contact_details_import_every_good_debt(upload, run_job, creditor, strategy):
    job = upload(SINGLE_AMOUNT)
    # The suggested mapping is enough: the single amount is the balance and the original amount.
    assert job.mapping["balance"] == "Importe pendiente" and "original_amount" not in job.mapping
    with translation.override("en"):
        job = run_job(job, strategy=strategy)
        assert [line for line, _c, _m in errors_of(job)] == [5, 6]
        assert warnings_of(job) == [
            (3, "Teléfono", "+34 612 34", BAD_PHONE), (3, "Correo", "ana@@example", BAD_EMAIL),
            (4, "Correo", "luis.example.com", BAD_EMAIL), (6, "Teléfono", "+1 200 555 0100", BAD_PHONE)]
    assert (job.status, job.rows_created, job.rows_rejected, job.rows_warned) == (ImportStatus.DONE, 3, 2, 2)
    assert {c.reference: (c.original_amount, c.balance) for c in Case.objects.all()} == {
        "E-1": (Decimal("1200.50"), Decimal("1200.50")), "E-2": (Decimal("300.00"), Decimal("300.00")),
        "E-3": (Decimal("75.25"), Decimal("75.25"))}
    points = {(p.debtor.document_number, p.kind, p.value): p.unusable_reason for p in ContactPoint.objects.select_related("debtor")}
    assert points == {
        (DNIS[0], "phone", "+34612345678"): "", (DNIS[0], "email", "jose@example.com"): "",
        (DNIS[1], "phone", "+34 612 34"): "Not a valid phone number (as imported)",
        (DNIS[1], "email", "ana@@example"): "Not a valid e-mail address (as imported)",
        (DNIS[2], "phone", "+34912345678"): "", (DNIS[2], "email", "luis.example.com"): "Not a valid e-mail address (as imported)"}


def test_an_unusable_point_is_never_used_and_the_agent_sees_why(upload, run_job, creditor):
    from collections_crm.desk.selectors import case_contact_points
    from contacts.selectors import contact_status_for_cases

    with translation.override("en"):
        run_job(upload(SINGLE_AMOUNT))
    case = Case.objects.select_related("debtor").get(reference="E-2")  # only an unusable phone
    status = contact_status_for_cases(cases=[case], now=dt.datetime(2025, 3, 3, 10, tzinfo=dt.UTC))[case.pk]
    assert (status.callable_now, status.reason) == (False, "point_unusable")
    reasons = {p.value: p.stop_reasons for p in case_contact_points(case=case)}
    assert reasons["+34 612 34"] == ["Not a valid phone number (as imported)"]


def test_an_xlsx_with_one_amount_column_and_warnings(upload, run_job, creditor):
    content = _xlsx([
        ["Expediente", "NIF", "Nombre", "Móvil", "Email", "Saldo", "Vencimiento"],
        ["X-1", DNIS[5], "Ana", 612345678, "ana@example.com", 1234.5, dt.datetime(2025, 1, 31)],
        ["X-2", DNIS[6], "Luis", 1234, "no-es-correo", "99,90", "01/02/2025"],
        ["X-3", DNIS[7], "Eva", None, None, None, dt.datetime(2025, 1, 31)],
    ])
    with translation.override("en"):
        job = run_job(upload(content, name="cartera.xlsx"))
        assert errors_of(job) == [(4, "Saldo", "This column is required.")]
        assert [(line, column) for line, column, _v, _m in warnings_of(job)] == [(3, "Móvil"), (3, "Email")]
    assert dict(Case.objects.values_list("reference", "balance")) == {"X-1": Decimal("1234.50"), "X-2": Decimal("99.90")}


CREDITOR_COLUMN = (
    "Referencia;Acreedor;DNI;Nombre;Importe;Vencimiento\r\n"
    f"A-1;Energía del Sur;{DNIS[0]};Uno;100,00;31/01/2025\r\n"  # by name, accents and case aside
    f"A-1;ENERGIA DEL SUR;{DNIS[1]};Dos;100,00;31/01/2025\r\n"  # the same reference for the same creditor: a repeat
    f"A-1;tel-norte;{DNIS[1]};Dos;200,00;31/01/2025\r\n"  # the same reference, another creditor (by code): fine
    f"A-2;;{DNIS[2]};Tres;300,00;31/01/2025\r\n"  # blank: the upload's creditor
    f"A-3;Aguas Nuevas SL;{DNIS[3]};Cuatro;400,00;31/01/2025\r\n"  # unknown
    f"A-4;aguas nuevas sl;{DNIS[4]};Cinco;500,00;31/01/2025\r\n"  # unknown, the same one
).encode("cp1252")


@pytest.fixture
def creditors(db):
    return CreditorFactory(code="energia", name="Energía del Sur"), CreditorFactory(code="tel-norte", name="Telefónica Norte")


@pytest.mark.parametrize("strategy", ["batch", pytest.param("copy", marks=only_pg)])
def test_a_creditor_column_says_whose_debt_each_row_is(upload, run_job, creditor, creditors, strategy):
    energia, tel = creditors
    job = upload(CREDITOR_COLUMN)
    assert job.mapping["creditor"] == "Acreedor"
    with translation.override("en"):
        job = run_job(job, strategy=strategy)
        assert [(line, column) for line, column, _m in errors_of(job)] == [(3, "Referencia"), (6, "Acreedor"), (7, "Acreedor")]
        assert "tick “Create missing creditors”" in errors_of(job)[1][2]
    assert sorted(Case.objects.values_list("creditor__code", "reference", "balance")) == [
        ("banco", "A-2", Decimal("300.00")), ("energia", "A-1", Decimal("100.00")), ("tel-norte", "A-1", Decimal("200.00"))]


@pytest.mark.parametrize("strategy", ["batch", pytest.param("copy", marks=only_pg)])
def test_missing_creditors_are_created_when_asked(upload, run_job, admin_user, creditor, creditors, strategy):
    job = upload(CREDITOR_COLUMN)
    import_job_configure(actor=admin_user, job_id=job.pk, mapping=job.mapping, day_first=True, decimal_comma=True,
                         all_or_nothing=False, create_missing_creditors=True)
    job = run_job(job, strategy=strategy)
    assert (job.rows_created, job.rows_rejected) == (5, 1)  # only the repeated reference is rejected
    created = Creditor.objects.get(name="Aguas Nuevas SL")  # once, spelt as first written
    assert created.code == "aguas-nuevas-sl" and created.currency == "EUR"
    assert sorted(Case.objects.filter(creditor=created).values_list("reference", flat=True)) == ["A-3", "A-4"]
    row = AuditLog.objects.get(action="creditor.created")
    assert (row.object_id, row.after["import_job"], row.actor_id) == (str(created.pk), job.pk, admin_user.pk)


def test_all_or_nothing_creates_no_creditor(upload, run_job, admin_user, creditor, creditors):
    job = upload(CREDITOR_COLUMN, all_or_nothing=True)
    import_job_configure(actor=admin_user, job_id=job.pk, mapping=job.mapping, day_first=True, decimal_comma=True,
                         all_or_nothing=True, create_missing_creditors=True)
    job = run_job(job)
    assert job.status == ImportStatus.REJECTED
    assert not Creditor.objects.filter(name="Aguas Nuevas SL").exists() and Case.objects.count() == 0


@pytest.fixture
def squad(db):
    team = TeamFactory(name="Cobros Norte")
    agents = [UserFactory(username=f"ag{i}", first_name="Agente", last_name=f"Número{i}", email=f"ag{i}@crm.test",
                          role=Role.AGENT, team=team) for i in range(3)]
    UserFactory(username="retired", role=Role.AGENT, team=team, is_active=False)
    return team, agents


def _portfolio(n: int, *, agent_column: list[str] | None = None) -> bytes:
    header = "Referencia;DNI;Nombre;Importe;Vencimiento" + (";Gestor" if agent_column else "")
    lines = [header] + [f"R-{i};{DNIS[i]};Deudor {i};100,00;31/01/2025" + (f";{agent_column[i]}" if agent_column else "")
                        for i in range(n)]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


@pytest.mark.parametrize("strategy", ["batch", pytest.param("copy", marks=only_pg)])
def test_round_robin_across_a_team(upload, run_job, admin_user, squad, strategy):
    team, agents = squad
    job = upload(_portfolio(7))
    import_job_configure(actor=admin_user, job_id=job.pk, mapping=job.mapping, day_first=True, decimal_comma=True,
                         all_or_nothing=False, assign_mode="round_robin", assign_team=team)
    job = run_job(job, strategy=strategy)
    owners = [c.assigned_agent.username for c in Case.objects.select_related("assigned_agent").order_by("reference")]
    assert owners == ["ag0", "ag1", "ag2", "ag0", "ag1", "ag2", "ag0"]  # in file order, the retired agent never
    rows = AuditLog.objects.filter(action="case.assigned")
    assert rows.count() == 7 and {r.after["import_job"] for r in rows} == {job.pk}
    assert all(r.before == {"assigned_agent_id": None} and r.case_id == int(r.object_id) for r in rows)


def test_balanced_fills_the_least_loaded_agents_first(upload, run_job, admin_user, squad):
    team, (a0, a1, a2) = squad
    for _ in range(4):
        CaseFactory(assigned_agent=a0)
    CaseFactory(assigned_agent=a1)
    job = upload(_portfolio(6))
    import_job_configure(actor=admin_user, job_id=job.pk, mapping=job.mapping, day_first=True, decimal_comma=True,
                         all_or_nothing=False, assign_mode="balanced", assign_team=team)
    run_job(job)
    loads = {a.username: Case.objects.filter(assigned_agent=a).count() for a in (a0, a1, a2)}
    # 11 cases over 3 agents, as level as can be (the one with none before takes the odd case).
    assert loads == {"ag0": 4, "ag1": 3, "ag2": 4}
    assert level_quotas([(4, 1), (1, 2), (0, 3)], 6) == [(3, 4), (2, 2)]
    assert level_quotas([(0, 1), (0, 2)], 3) == [(1, 2), (2, 1)]
    assert level_quotas([(9, 1)], 0) == []


def test_an_agent_column_wins_and_an_unknown_agent_is_a_warning(upload, run_job, admin_user, squad):
    team, (a0, a1, a2) = squad
    column = ["ag2", "AG1@crm.test", "Agente Número0", "nobody", "retired", ""]
    job = upload(_portfolio(6, agent_column=column))
    assert job.mapping["agent"] == "Gestor"
    import_job_configure(actor=admin_user, job_id=job.pk, mapping=job.mapping, day_first=True, decimal_comma=True,
                         all_or_nothing=False, assign_mode="agent", assign_agent=a0)
    with translation.override("en"):
        job = run_job(job)
        assert [(line, value) for line, _c, value, _m in warnings_of(job)] == [(5, "nobody"), (6, "retired")]
    owners = dict(Case.objects.values_list("reference", "assigned_agent__username"))
    assert owners == {"R-0": "ag2", "R-1": "ag1", "R-2": "ag0", "R-3": "ag0", "R-4": "ag0", "R-5": "ag0"}


def test_assignment_options_are_checked(upload, admin_user, squad):
    from django.core.exceptions import ValidationError

    team, agents = squad
    job = upload(_portfolio(2))
    empty = TeamFactory(name="Vacío")
    for options, field in (({"assign_mode": "agent"}, "assign_agent"), ({"assign_mode": "round_robin"}, "assign_team"),
                           ({"assign_mode": "balanced", "assign_team": empty}, "assign_team"),
                           ({"assign_mode": "agent", "assign_agent": admin_user}, "assign_agent")):
        with pytest.raises(ValidationError) as info:
            import_job_configure(actor=admin_user, job_id=job.pk, mapping=job.mapping, day_first=True, decimal_comma=True,
                                 all_or_nothing=False, **options)
        assert field in info.value.message_dict
    job.refresh_from_db()
    assert job.assign_mode == ""


# --- Headless: the import_file command ---------------------------------------------------------

def test_the_command_imports_writes_the_report_and_says_so(tmp_path, admin_user, creditor, capsys):
    path = tmp_path / "cartera.csv"
    path.write_bytes(SINGLE_AMOUNT)
    with translation.override("en"):
        with pytest.raises(SystemExit) as exit_info:
            call_command("import_file", str(path), "--creditor", "banco", "--fail-on-rejections")
    assert exit_info.value.code == 1  # two rows rejected, and it was asked to fail on that
    job = ImportJob.objects.get()
    assert (job.source, job.status, job.rows_created, job.rows_rejected, job.created_by) == ("command", "done", 3, 2, admin_user)
    lines = (tmp_path / "cartera.csv.report.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "Result,Line,Column,Value,Reason" and len(lines) == 1 + 2 + 4
    assert [line.split(",")[:2] for line in lines[1:3]] == [["Rejected", "5"], ["Rejected", "6"]]
    out = capsys.readouterr()
    assert "created 3" in out.out and "rejected 2" in out.out and "100 %" not in out.out and "Import #" in out.err
    # The same file again: nothing new, and without --fail-on-rejections it succeeds.
    call_command("import_file", str(path), "--creditor", "banco")
    assert Case.objects.count() == 3 and ImportJob.objects.latest("pk").rows_unchanged == 3


def test_a_dry_run_keeps_nothing_but_the_report(tmp_path, admin_user, creditor, settings):
    path = tmp_path / "cartera.csv"
    path.write_bytes(SINGLE_AMOUNT)
    report = tmp_path / "out" / "r.csv"
    report.parent.mkdir()
    call_command("import_file", str(path), "--creditor", "banco", "--dry-run", "--report", str(report))
    assert not ImportJob.objects.exists() and not Case.objects.exists() and not AuditLog.objects.exists()
    assert len(report.read_text(encoding="utf-8-sig").splitlines()) == 7
    stored = list((settings.MEDIA_ROOT / "imports").rglob("*.csv")) if (settings.MEDIA_ROOT / "imports").exists() else []
    assert stored == []  # the stored copy of the file went too


def test_the_command_takes_a_mapping_file_and_refuses_clearly(tmp_path, admin_user, creditor):
    path = tmp_path / "f.csv"
    path.write_bytes(f"Clave;Doc;Quién;Debe;Cuándo\r\nK-1;{DNIS[0]};Ana;12,50;01/02/2025\r\n".encode("cp1252"))
    with pytest.raises(CommandError) as info:
        call_command("import_file", str(path), "--creditor", "banco")
    assert info.value.returncode == 2 and "mapping" in str(info.value)
    assert not Case.objects.exists()
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"mapping": {"reference": "Clave", "document_number": "Doc", "name": "Quién", "balance": "Debe",
                                               "due_date": "Cuándo"}, "decimal_comma": True}))
    call_command("import_file", str(path), "--creditor", "banco", "--mapping", str(mapping))
    assert Case.objects.get().balance == Decimal("12.50")
    for args, words in ((["--creditor", "nope"], "nope"), (["--creditor", "banco", "--user", "ghost"], "ghost")):
        with pytest.raises(CommandError) as info:
            call_command("import_file", str(path), *args)
        assert words in str(info.value) and info.value.returncode == 2


# --- Headless: a watched folder ----------------------------------------------------------------

@pytest.fixture
def folder(tmp_path, admin_user, creditor):
    drop = tmp_path / "sftp" / "banco"
    drop.mkdir(parents=True)
    admin_user.language = "en"  # the folder's notes and reports are in its owner's language
    admin_user.save()
    return WatchedFolder.objects.create(path=str(drop), creditor=creditor, owner=admin_user)


def _drop(folder, name: str, content: bytes, *, age: int = 120):
    path = os.path.join(folder.path, name)
    with open(path, "wb") as handle:
        handle.write(content)
    old = dt.datetime.now().timestamp() - age
    os.utime(path, (old, old))
    return path


def test_a_dropped_file_is_imported_moved_to_done_with_its_report_and_a_redrop_is_a_no_op(
        folder, run_import_inline, django_capture_on_commit_callbacks):
    from pathlib import Path

    root = Path(folder.path)
    _drop(folder, "cartera.csv", SINGLE_AMOUNT)
    _drop(folder, "subiendo.csv", SINGLE_AMOUNT, age=0)  # still being written: left alone
    with django_capture_on_commit_callbacks(execute=True):
        assert folders_poll()["started"] == 1
    job = ImportJob.objects.get()
    assert (job.source, job.folder, job.status, job.rows_created) == ("folder", folder, "done", 3)
    assert (root / "subiendo.csv").exists() and not (root / "cartera.csv").exists()
    assert folders_poll()["finished"] == 1
    assert (root / "done" / "cartera.csv").read_bytes() == SINGLE_AMOUNT
    report = (root / "done" / "cartera.csv.report.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(report) == 7 and not list((root / "processing").iterdir())
    # The creditor drops the same file again (same contents, another name): nothing is imported twice.
    _drop(folder, "cartera-copia.csv", SINGLE_AMOUNT)
    assert folders_poll()["duplicates"] == 1
    assert ImportJob.objects.count() == 1 and Case.objects.count() == 3
    note = (root / "done" / "cartera-copia.csv.note.txt").read_text(encoding="utf-8")
    assert f"#{job.pk}" in note
    assert AuditLog.objects.filter(action="import.duplicate_skipped", object_id=str(job.pk)).exists()


def test_a_file_whose_columns_cannot_be_mapped_goes_to_failed_with_the_reason(folder):
    from pathlib import Path

    _drop(folder, "raro.csv", b"a;b;c\r\n1;2;3\r\n")
    _drop(folder, "binario.csv", b"\x00\x01\x02" * 100)
    with translation.override("en"):
        assert folders_poll()["failed"] == 2
    failed = Path(folder.path) / "failed"
    assert {p.name for p in failed.iterdir()} == {"raro.csv", "raro.csv.note.txt", "raro.csv.report.csv", "binario.csv",
                                                   "binario.csv.note.txt"}
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.FAILED and "map its columns" in job.failure
    assert "map its columns" in (failed / "raro.csv.note.txt").read_text()
    assert not Case.objects.exists()


def test_a_missing_folder_is_reported_on_the_folder(folder):
    WatchedFolder.objects.filter(pk=folder.pk).update(path="/nonexistent/drop")
    folders_poll()
    folder.refresh_from_db()
    assert folder.last_polled_at is not None and "FileNotFoundError" in folder.last_problem


def test_an_admin_sets_a_watched_folder_inside_the_drop_area_only(client, admin_user, creditor, settings, tmp_path):
    from django.urls import reverse

    settings.CRM_IMPORT_FOLDER_ROOT = tmp_path / "dropbox"
    client.force_login(admin_user)
    with translation.override("en"):
        refused = client.post(reverse("imports:folder_add"), {"folder-path": "/etc", "folder-creditor": creditor.pk,
                                                              "folder-kind": "portfolio", "folder-active": "on"}, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400 and "The folder must be inside" in refused.content.decode()
    assert not WatchedFolder.objects.exists()
    response = client.post(reverse("imports:folder_add"), {"folder-path": "banco", "folder-creditor": creditor.pk,
                                                           "folder-kind": "portfolio", "folder-active": "on"})
    assert response.status_code == 302
    folder = WatchedFolder.objects.get()
    assert folder.path == str((tmp_path / "dropbox" / "banco").resolve()) and folder.owner == admin_user
    assert (tmp_path / "dropbox" / "banco").is_dir()
    assert AuditLog.objects.filter(action="import.folder_created", object_id=str(folder.pk)).exists()
    page = client.get(reverse("imports:list")).content.decode()
    assert folder.path in page
    client.post(reverse("imports:folder_delete", args=[folder.pk]))
    assert not WatchedFolder.objects.exists() and AuditLog.objects.filter(action="import.folder_deleted").exists()
