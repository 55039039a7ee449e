"""Portfolio import speed on PostgreSQL: the project's importer (COPY into a staging table,
then set-based upserts, with validation and the audit rows described in loader.py) against a plain
ORM bulk_create of the same file. Peak memory is the process's resident set during the run.

``CRM_BENCH_IMPORT_ROWS`` sets the file size (default 1,000,000 debtor+case rows).
"""

from __future__ import annotations

import csv
import os
import random
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone

from cases.models import Case, Creditor
from collections_crm.accounts.models import Role, User
from collections_crm.devtools.bench import BenchContext, Figure, benchmark
from collections_crm.imports.loader import PHASE_SECONDS, Source, row_context
from collections_crm.imports.models import ImportJob, ImportStatus
from collections_crm.imports.rows import portfolio_row
from collections_crm.imports.services import import_job_create, import_job_run
from debtors.models import ContactPoint, Debtor
from debtors.validators import dni_for

HEADER = ["Referencia", "DNI", "Nombre", "Teléfono", "Importe", "Gastos", "Saldo", "Vencimiento"]
DOC_BASE = 70_000_000  # clear of the numbers the data generator uses


def write_file(path: Path, rows: int) -> None:
    """A Spanish creditor's export: semicolons, Windows-1252, decimal commas, day-first dates,
    phones in national and international forms."""
    rng = random.Random(7)
    names = ["María García López", "José Fernández Ruiz", "Lucía Muñoz Gil", "Raúl Pérez Núñez", "Ana Sánchez Díaz"]
    with path.open("w", encoding="cp1252", newline="") as fh:
        out = csv.writer(fh, delimiter=";")
        out.writerow(HEADER)
        for n in range(rows):
            amount = Decimal(rng.randint(5_000, 5_000_000)) / 100
            fees = (amount * Decimal("0.05")).quantize(Decimal("0.01")) if n % 2 else Decimal("0")
            phone = f"6{rng.randint(10_000_000, 99_999_999)}"
            phone = f"+34 {phone[:3]} {phone[3:6]} {phone[6:]}" if n % 3 == 0 else phone
            out.writerow([
                f"BI-{n:07d}", dni_for(DOC_BASE + n), names[n % len(names)], phone,
                f"{amount:,.2f}".replace(",", "X").replace(".", ",").replace("X", "."), str(fees).replace(".", ","), "",
                f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.choice([2023, 2024, 2025])}",
            ])


class PeakRSS:
    """Samples the resident set size every 20 ms while running."""

    def __enter__(self):
        self.start = self.peak = self._rss()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _rss(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self._rss())
            time.sleep(0.02)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 1024 / 1024, 1)

    @property
    def growth_mb(self) -> float:
        return round((self.peak - self.start) / 1024 / 1024, 1)


def _bulk_create_baseline(job: ImportJob, creditor: Creditor, now) -> int:
    """The same file through the same row validation, then Django's bulk_create in batches:
    no staging, no upsert of changed balances, no audit rows."""
    source = Source(job)
    headers, records = source.header_and_records()
    ctx = row_context(job, headers, today=timezone.localdate(now))
    created = 0

    def flush(batch):
        docs = {(r[0], r[1]): r for r in batch}
        Debtor.objects.bulk_create(
            [Debtor(document_type=t, document_number=n, name=r[2], kind=r[3], country=r[4], timezone=r[5], language=r[6])
             for (t, n), r in docs.items()], ignore_conflicts=True)
        ids = dict(((t, n), pk) for pk, t, n in Debtor.objects.filter(document_number__in=[n for _t, n in docs]).values_list("id", "document_type", "document_number"))
        ContactPoint.objects.bulk_create([ContactPoint(debtor_id=ids[(r[0], r[1])], kind="phone", value=r[7]) for r in batch if r[7]], ignore_conflicts=True)
        Case.objects.bulk_create([
            Case(creditor=creditor, debtor_id=ids[(r[0], r[1])], reference=r[9], original_amount=r[10], fees=r[11], balance=r[12],
                 currency=r[13], due_date=r[14], placed_at=r[15], next_action_at=now) for r in batch
        ], ignore_conflicts=True)
        return len(batch)

    try:
        batch = []
        with transaction.atomic():
            for _line, cells in records:
                row = portfolio_row(ctx, cells)
                if row is not None:
                    batch.append(row)
                if len(batch) >= 5000:
                    created += flush(batch)
                    batch = []
            if batch:
                created += flush(batch)
    finally:
        source.close()
    return created


def _delete_rows(creditor: Creditor) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM cases_case WHERE creditor_id = %s", [creditor.pk])
        cursor.execute("DELETE FROM debtors_contactpoint WHERE debtor_id IN (SELECT id FROM debtors_debtor WHERE document_number LIKE 'BIMP%%' OR id IN "
                       "(SELECT d.id FROM debtors_debtor d LEFT JOIN cases_case c ON c.debtor_id = d.id WHERE c.id IS NULL))")
        cursor.execute("DELETE FROM debtors_debtor d WHERE NOT EXISTS (SELECT 1 FROM cases_case c WHERE c.debtor_id = d.id)")


@benchmark("portfolio import")
def portfolio_import(ctx: BenchContext) -> list[Figure]:
    rows = int(os.environ.get("CRM_BENCH_IMPORT_ROWS", "1000000"))
    admin = User.objects.filter(role=Role.ADMIN).first() or User.objects.create(username="bench-admin", role=Role.ADMIN)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cartera.csv"
        start = time.perf_counter()
        write_file(path, rows)
        figures.append(("import file written", round(time.perf_counter() - start, 1), "s"))
        figures.append(("import file size", round(path.stat().st_size / 1024 / 1024, 1), "MB"))

        def new_job(code: str) -> tuple[ImportJob, Creditor]:
            creditor, _ = Creditor.objects.get_or_create(code=code, defaults={"name": code})
            with path.open("rb") as fh:
                job = import_job_create(actor=admin, creditor=creditor, kind="portfolio", upload=File(fh, name="cartera.csv"))
            ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED)  # run here, not on the broker
            return job, creditor

        if connection.vendor == "postgresql":
            # Baseline first, on a clean slate, then removed so that the importer starts from the same state.
            job, creditor = new_job("bench-bulk-create")
            with PeakRSS() as mem:
                start = time.perf_counter()
                created = _bulk_create_baseline(job, creditor, timezone.now())
                seconds = time.perf_counter() - start
            figures += [("bulk_create baseline rows/s", round(created / seconds), "rows/s"),
                        ("bulk_create baseline time", round(seconds, 1), "s"),
                        ("bulk_create baseline peak RSS", mem.peak_mb, "MB")]
            _delete_rows(creditor)
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE debtors_debtor") if not connection.in_atomic_block else None

        job, creditor = new_job("bench-import")
        with PeakRSS() as mem:
            start = time.perf_counter()
            done = import_job_run(job_id=job.pk)
            seconds = time.perf_counter() - start
        assert done.rows_created == rows and done.rows_rejected == 0, (done.rows_created, done.rows_rejected, done.failure)
        figures += [("importer rows/s", round(rows / seconds), "rows/s"), ("importer time", round(seconds, 1), "s"),
                    *((f"importer phase: {phase}", round(secs, 1), "s") for phase, secs in PHASE_SECONDS.items()),
                    ("importer peak RSS", mem.peak_mb, "MB"), ("importer RSS growth", mem.growth_mb, "MB")]

        job, _creditor = new_job("bench-import")
        start = time.perf_counter()
        again = import_job_run(job_id=job.pk)
        seconds = time.perf_counter() - start
        assert again.rows_created == 0 and again.rows_updated == 0 and again.rows_unchanged == rows
        figures.append(("re-import of the same file (no-op) rows/s", round(rows / seconds), "rows/s"))
        figures += [(f"re-import phase: {phase}", round(secs, 1), "s") for phase, secs in PHASE_SECONDS.items()]
        with open("/proc/loadavg") as fh:  # figures taken on a loaded machine say so
            figures.append(("load average (1 min) at the end", float(fh.read().split()[0]), ""))
    return figures
