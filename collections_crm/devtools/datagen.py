"""Realistic portfolio data at any scale, written with bulk inserts.

Used by ``seed_demo`` (a few hundred cases with a believable history) and by the benchmark
harness (up to millions of cases). Rows get explicit ids so related rows can be written in the
same pass; on PostgreSQL they are streamed with COPY, elsewhere inserted with executemany.
Data made here bypasses the services on purpose (speed); it is consistent with their rules:
balance = total due − payments, paid cases have a zero balance, promises settle in order.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.db import connection, models, transaction
from django.utils import timezone

from cases.choices import (
    BarrierKind,
    CaseStatus,
    Channel,
    InstalmentStatus,
    Objective,
    Outcome,
    PaymentMethod,
    PlanStatus,
    PromiseStatus,
)
from cases.models import Barrier, Case, Creditor, Instalment, Payment, PaymentPlan, PromiseToPay
from collections_crm.core import bulk
from contacts.models import ContactAttempt, ExcuseCategory, Technique
from debtors.models import ContactPoint, Debtor
from debtors.validators import cif_for, dni_for
from debtors.zones import candidate_zones, zones_text

FIRST_ES = ["María", "José", "Carmen", "Antonio", "Lucía", "Manuel", "Ana", "Francisco", "Laura", "David", "Marta",
            "Javier", "Isabel", "Carlos", "Elena", "Miguel", "Pilar", "Alejandro", "Rosa", "Pablo", "Cristina", "Sergio",
            "Beatriz", "Jorge", "Nuria", "Raúl", "Silvia", "Álvaro", "Teresa", "Diego"]
LAST_ES = ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Martín",
           "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Alonso", "Gutiérrez",
           "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos", "Gil", "Ramírez", "Serrano", "Blanco", "Molina"]
FIRST_EN = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth",
            "David", "Susan", "Richard", "Jessica", "Thomas", "Sarah"]
LAST_EN = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Moore",
           "Jackson", "White", "Harris", "Clark", "Lewis"]
COMPANY_A = ["Construcciones", "Distribuciones", "Talleres", "Transportes", "Comercial", "Servicios", "Suministros",
             "Hostelería", "Reformas", "Ingeniería"]
COMPANY_B = ["del Norte", "Ibérica", "Levante", "Mediterráneo", "Castilla", "Atlántico", "Sur", "Hermanos Ruiz",
             "Sierra", "Costa"]
COMPANY_EN = ["Acme Supplies", "Blue River Logistics", "Summit Builders", "Northwind Traders", "Pioneer Foods",
              "Evergreen Services"]

CREDITORS = [
    # code, name, kind, currency
    ("banco-ejemplo", "Banco Ejemplo S.A.", "client", "EUR"),
    ("telecom-iberia", "Telecom Iberia", "client", "EUR"),
    ("energia-sol", "Energía Sol Comercializadora", "client", "EUR"),
    ("propia", "Cartera propia", "own", "EUR"),
    ("acme-us", "Acme Financial Inc.", "client", "USD"),
]

NOTES_ES = [
    "Dice que no ha recibido la factura; se la reenviamos.",
    "Comenta que cobra a final de mes.",
    "Muy colaborador, pide plan de pagos.",
    "No reconoce el importe de las comisiones.",
    "La persona de cuentas a pagar está de vacaciones.",
    "Ha confirmado la transferencia para el viernes.",
    "",
    "",
]


class BulkWriter:
    """Writes rows (tuples in ``fields`` order, id first) for a model as fast as the database allows."""

    def __init__(self, batch_size: int = 50_000):
        self.batch_size = batch_size
        self.is_pg = connection.vendor == "postgresql"
        self.counts: dict[str, int] = {}

    def next_id(self, model: type[models.Model]) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {model._meta.db_table}")
            return cursor.fetchone()[0] + 1

    def write(self, model: type[models.Model] | str, fields: Sequence[str], rows: Iterable[tuple]) -> int:
        table = model if isinstance(model, str) else model._meta.db_table
        batch: list[tuple] = []
        total = 0
        for row in rows:
            batch.append(row)
            if len(batch) >= self.batch_size:
                self._flush(table, fields, batch)
                total += len(batch)
                batch = []
        if batch:
            self._flush(table, fields, batch)
            total += len(batch)
        self.counts[table] = self.counts.get(table, 0) + total
        return total

    def _flush(self, table: str, fields: Sequence[str], rows: list[tuple]) -> None:
        with connection.cursor() as cursor:
            if self.is_pg:
                buf = io.StringIO()
                for row in rows:
                    buf.write("\t".join(_copy_value(v) for v in row))
                    buf.write("\n")
                buf.seek(0)
                cursor.cursor.copy_expert(f"COPY {table} ({', '.join(fields)}) FROM STDIN", buf)
            else:
                placeholders = ", ".join(["%s"] * len(fields))
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(fields)}) VALUES ({placeholders})",
                    [tuple(_sqlite_value(v) for v in row) for row in rows],
                )

    def reset_sequences(self, models_: Iterable[type[models.Model]]) -> None:
        if not self.is_pg:
            return
        with connection.cursor() as cursor:
            for model in models_:
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 1))"
                )


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _sqlite_value(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")
    if isinstance(value, (dt.date, Decimal)):
        return str(value)
    return value


def ensure_creditors() -> list[Creditor]:
    result = []
    for code, name, kind, currency in CREDITORS:
        creditor, _ = Creditor.objects.get_or_create(code=code, defaults={"name": name, "kind": kind, "currency": currency})
        result.append(creditor)
    return result


def generate_portfolio(
    *,
    cases: int,
    agents: Sequence[int],
    attempts_per_case: float = 3.0,
    prefix: str = "DEMO",
    seed: int = 7,
    now: dt.datetime | None = None,
    log=None,
) -> dict:
    """Add cases up to ``cases`` with prefix ``prefix`` (idempotent: existing ones are kept).

    Returns figures: rows written per table, seconds and rows per second."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    creditors = ensure_creditors()
    existing = Case.objects.filter(reference__startswith=f"{prefix}-").count()
    todo = cases - existing
    if todo <= 0:
        return {"created_cases": 0, "rows": 0, "seconds": 0.0, "rows_per_second": 0.0, "tables": {}}

    rng = random.Random(f"{seed}-{prefix}-{existing}")
    writer = BulkWriter()
    techniques = list(Technique.objects.filter(active=True).values_list("id", flat=True))
    excuses = list(ExcuseCategory.objects.values_list("id", "is_barrier", "suggested_objective", "barrier_kind"))
    start = time.perf_counter()
    tables = [Debtor, ContactPoint, Case, ContactAttempt, PromiseToPay, Payment, PaymentPlan, Instalment, Barrier]

    # The rows made here reference only ids created in the same pass: the checks would all pass.
    with transaction.atomic(), bulk.foreign_key_checks_skipped():
        counters = {model: writer.next_id(model) for model in tables}

        def take(model: type[models.Model]) -> int:
            value = counters[model]
            counters[model] = value + 1
            return value

        # Document numbers are unique: derive them from the debtor id (plus a per-prefix offset).
        doc_base = (sum(map(ord, prefix)) % 50) * 1_000_000

        # Chunks bound the memory used for millions of cases.
        chunk = 20_000
        for chunk_start in range(0, todo, chunk):
            debtors, points, case_rows = [], [], []
            attempts, links, promises, payments, plans, instalments, barriers = [], [], [], [], [], [], []
            for i in range(chunk_start, min(todo, chunk_start + chunk)):
                n = existing + i
                debtor_id = take(Debtor)
                creditor = creditors[n % len(creditors)]
                us = creditor.currency == "USD"
                company = rng.random() < 0.25
                if company:
                    name = (rng.choice(COMPANY_EN) + " " + rng.choice(["LLC", "Inc."])) if us else (
                        f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)} S.L.")
                    doc_type, doc = ("ssn", f"EIN{doc_base + debtor_id:09d}") if us else ("cif", "")
                else:
                    first, last = (rng.choice(FIRST_EN), rng.choice(LAST_EN)) if us else (rng.choice(FIRST_ES), f"{rng.choice(LAST_ES)} {rng.choice(LAST_ES)}")
                    name = f"{first} {last}"
                    doc_type, doc = ("ssn", f"SSN{doc_base + debtor_id:09d}") if us else ("dni", dni_for(10_000_000 + doc_base + debtor_id))
                if company and not us:
                    # CIF numbers have 7 digits; keep them unique beyond 10M debtors with a prefix letter cycle.
                    doc = cif_for("ABCDEFGHJ"[((doc_base + debtor_id) // 10_000_000) % 9], (doc_base + debtor_id) % 10_000_000)
                country, tz, lang = ("US", rng.choice(["America/New_York", "America/Chicago", "America/Los_Angeles"]), "en") if us else (
                    ("MX", "America/Mexico_City", "es") if n % 23 == 0 else ("ES", "Europe/Madrid" if n % 17 else "Atlantic/Canary", "es"))
                flags = rng.random()
                if us:
                    phone = f"+1{rng.choice(['212', '312', '415', '646', '702'])}555{rng.randint(1000, 9999)}"
                else:
                    phone = f"+34{rng.choice('67')}{rng.randint(10000000, 99999999)}"
                # As debtors.services.debtor_zones_refresh would (a phone in another zone than the
                # debtor's makes the zone uncertain: the demo shows such debtors).
                zones = zones_text(candidate_zones(timezone=tz, confirmed=False, phones=[phone]))
                debtors.append((debtor_id, "company" if company else "person", name, doc_type, doc, country, tz, lang, "",
                                flags < 0.01, flags > 0.995, 0.01 <= flags < 0.015, False, False, zones, now, now))
                pid = take(ContactPoint)
                points.append((pid, debtor_id, "phone", phone, "móvil" if not company else "cuentas a pagar", "", True,
                               rng.random() < 0.7, rng.random() < 0.8, rng.random() < 0.03, rng.random() < 0.02, now))
                if rng.random() < 0.7:
                    email = f"deudor{debtor_id}@example.{'com' if us else 'es'}"
                    points.append((take(ContactPoint), debtor_id, "email", email, "", "", False, rng.random() < 0.5,
                                   rng.random() < 0.9, rng.random() < 0.05, False, now))

                case_id = take(Case)
                original = Decimal(rng.choice([rng.randint(60, 900), rng.randint(900, 6000), rng.randint(6000, 60000)])) + Decimal(rng.randint(0, 99)) / 100
                fees = (original * Decimal("0.05")).quantize(Decimal("0.01")) if rng.random() < 0.5 else Decimal("0.00")
                total = original + fees
                dpd = rng.choice([-20, -5, 0, 3, 12, 25, 40, 55, 75, 88, 120, 160, 200, 300, 420])
                dpd = max(-30, dpd + rng.randint(-4, 4))
                due = today - dt.timedelta(days=dpd)
                placed = min(today, due + dt.timedelta(days=rng.randint(0, 20)))
                agent = agents[n % len(agents)] if agents and rng.random() > 0.04 else None

                # Outcome of the case so far decides its history.
                roll = rng.random()
                status = CaseStatus.NEW if dpd < 10 and roll < 0.5 else CaseStatus.ACTIVE
                paid = Decimal("0.00")
                objective, reason = Objective.REMIND, "Deuda reciente: recordar"
                n_attempts = 0 if status == CaseStatus.NEW else max(1, int(rng.expovariate(1 / attempts_per_case)))
                last_contact = None
                last_outcome = ""
                broken = 0
                for a in range(n_attempts):
                    occurred = now - dt.timedelta(days=rng.randint(0, max(1, dpd if dpd > 0 else 5)), minutes=rng.randint(0, 600))
                    occurred = occurred.replace(hour=rng.randint(9, 19))
                    if occurred > now:  # an interaction "today" happened earlier today (or yesterday), never later
                        occurred -= dt.timedelta(days=1)
                    channel = rng.choice([Channel.PHONE, Channel.PHONE, Channel.PHONE, Channel.EMAIL, Channel.SMS])
                    outcome = rng.choice([Outcome.NO_ANSWER, Outcome.NO_ANSWER, Outcome.LEFT_MESSAGE, Outcome.RIGHT_PARTY,
                                          Outcome.EXCUSE, Outcome.PROMISE, Outcome.CALLBACK]) if channel == Channel.PHONE else Outcome.SENT
                    exc = rng.choice(excuses) if outcome == Outcome.EXCUSE and excuses else None
                    att_objective = rng.choice([Objective.REMIND, Objective.GET_COMMITMENT, Objective.GET_COMMITMENT,
                                                Objective.REMOVE_BARRIERS, Objective.PRESSURE])
                    aid = take(ContactAttempt)
                    agent_for_attempt = agent if channel == Channel.PHONE else None
                    attempts.append((aid, case_id, pid, channel, "outbound", agent_for_attempt, occurred,
                                     rng.randint(30, 600) if outcome not in (Outcome.NO_ANSWER, Outcome.SENT) else 0,
                                     att_objective, outcome, exc[0] if exc else None,
                                     # A genuine inability to pay is an argument (seed 004); the rest excuses.
                                     ("argument" if exc[2] == Objective.CHANGE_TERMS else "excuse") if exc else "",
                                     rng.choice(NOTES_ES) if agent_for_attempt else "", "", None, occurred))
                    if channel == Channel.PHONE and techniques:
                        for t in rng.sample(techniques, k=min(len(techniques), rng.randint(1, 2))):
                            links.append((aid, t))
                    if exc and exc[1]:
                        # Something missing on our side opens its barrier, as logging the excuse does.
                        removed = rng.random() < 0.5
                        barriers.append((take(Barrier), case_id, exc[3] or BarrierKind.OTHER, "",
                                         "removed" if removed else "open", agent, occurred,
                                         agent if removed else None, occurred + dt.timedelta(days=2) if removed else None))
                    if outcome == Outcome.PROMISE:
                        p_amount = min(total - paid, (total * Decimal(rng.choice(["0.25", "0.5", "1"]))).quantize(Decimal("0.01")))
                        if p_amount <= 0:
                            continue
                        p_due = timezone.localdate(occurred) + dt.timedelta(days=rng.randint(2, 15))
                        if p_due >= today:
                            p_status, p_paid, resolved = PromiseStatus.PENDING, Decimal("0.00"), None
                            status = CaseStatus.PROMISED
                        else:
                            kept = rng.random() < 0.55
                            p_status = PromiseStatus.KEPT if kept else PromiseStatus.BROKEN
                            p_paid = p_amount if kept else Decimal("0.00")
                            resolved = dt.datetime.combine(p_due + dt.timedelta(days=1), dt.time(8), tzinfo=dt.UTC)
                            if kept:
                                paid += p_amount
                                payments.append((take(Payment), case_id, p_amount, p_due,
                                                 rng.choice(list(PaymentMethod.values)[:3]), f"TRF{case_id}{a}", None, None, resolved))
                            else:
                                broken += 1
                        promises.append((take(PromiseToPay), case_id, p_amount, p_due, "transfer", p_status, p_paid,
                                         agent, aid, occurred, resolved))
                    if last_contact is None or occurred > last_contact:
                        last_contact, last_outcome = occurred, outcome

                if status != CaseStatus.NEW and total - paid >= 120 and rng.random() < 0.06:
                    # A payment plan over the rest, some instalments already paid.
                    rest = total - paid
                    count = rng.choice([3, 6, 12])
                    each = (rest / count).quantize(Decimal("0.01"))
                    plan_id = take(PaymentPlan)
                    first = today - dt.timedelta(days=rng.randint(0, 60))
                    plans.append((plan_id, case_id, PlanStatus.ACTIVE, rest, Decimal("0.00"), count, "monthly", first, agent, None, now))
                    for k in range(count):
                        amount = each if k < count - 1 else rest - each * (count - 1)
                        inst_due = first + dt.timedelta(days=30 * k)
                        done = inst_due < today and rng.random() < 0.8
                        instalments.append((take(Instalment), plan_id, k + 1, inst_due, amount,
                                            amount if done else Decimal("0.00"),
                                            InstalmentStatus.PAID if done else (InstalmentStatus.MISSED if inst_due < today else InstalmentStatus.PENDING)))
                        if done:
                            paid += amount
                            payments.append((take(Payment), case_id, amount, inst_due, "direct_debit", f"PLAN{plan_id}-{k + 1}",
                                             None, None, dt.datetime.combine(inst_due, dt.time(10), tzinfo=dt.UTC)))
                    status = CaseStatus.PLAN
                    objective, reason = Objective.CHANGE_TERMS, "Plan de pagos activo"

                if status != CaseStatus.NEW and paid < total and rng.random() < 0.15:
                    extra = min(total - paid, (total * Decimal(rng.choice(["0.1", "0.3", "1"]))).quantize(Decimal("0.01")))
                    if extra > 0:
                        paid += extra
                        pay_day = today - dt.timedelta(days=rng.randint(0, 90))
                        payments.append((take(Payment), case_id, extra, pay_day, "transfer", f"TRF{case_id}X", None,
                                         None, dt.datetime.combine(pay_day, dt.time(11), tzinfo=dt.UTC)))

                balance = total - paid
                closed_at = None
                if balance <= 0:
                    balance, status, closed_at = Decimal("0.00"), CaseStatus.PAID, now
                    objective, reason = Objective.REMIND, "Pagado"
                elif status == CaseStatus.PLAN:
                    pass
                elif broken >= 2:
                    objective, reason = Objective.PRESSURE, f"{broken} promesas incumplidas"
                elif broken == 1:
                    objective, reason = Objective.GET_COMMITMENT, "Promesa incumplida"
                elif any(b[1] == case_id and b[4] == "open" for b in barriers[-3:]):
                    objective, reason = Objective.REMOVE_BARRIERS, "Barrera de pago abierta"
                elif last_outcome == Outcome.EXCUSE:
                    objective, reason = Objective.GET_COMMITMENT, "El deudor puso una excusa"
                elif dpd > 120 and rng.random() < 0.3:
                    objective, reason = Objective.PRESSURE, "Más de 120 días sin pago"
                if status == CaseStatus.ACTIVE and rng.random() < 0.02:
                    status = CaseStatus.DISPUTED
                next_action = None
                note = ""
                if status in (CaseStatus.NEW, CaseStatus.ACTIVE, CaseStatus.PROMISED, CaseStatus.PLAN):
                    next_action = now + dt.timedelta(hours=rng.randint(-72, 240))
                    note = "Primer contacto" if status == CaseStatus.NEW else reason
                # The planner writes the real why and next step (as codes) when it plans these cases.
                case_rows.append((case_id, creditor.id, debtor_id, f"{prefix}-{n + 1:07d}", original, fees, balance, creditor.currency,
                                  due, placed, status, objective, json.dumps({"text": reason}), agent, next_action,
                                  json.dumps({"text": note} if note else {}), last_contact, last_outcome,
                                  closed_at, 1, now, now))

            writer.write(Debtor, ["id", "kind", "name", "document_type", "document_number", "country", "timezone", "language",
                                  "notes", "do_not_contact", "cease_communication", "attorney_represented", "deceased",
                                  "bankruptcy", "candidate_timezones", "created_at", "updated_at"], debtors)
            writer.write(ContactPoint, ["id", "debtor_id", "kind", "value", "label", "person_name", "is_primary", "verified",
                                        "consent", "opted_out", "do_not_contact", "created_at"], points)
            writer.write(Case, ["id", "creditor_id", "debtor_id", "reference", "original_amount", "fees", "balance", "currency",
                                "due_date", "placed_at", "status", "objective", "objective_reason", "assigned_agent_id",
                                "next_action_at", "next_action_note", "last_contact_at", "last_outcome", "closed_at", "version",
                                "created_at", "updated_at"], case_rows)
            writer.write(ContactAttempt, ["id", "case_id", "contact_point_id", "channel", "direction", "agent_id", "occurred_at",
                                          "duration_seconds", "objective", "outcome", "excuse_category_id", "statement_kind",
                                          "notes", "next_step", "next_step_at", "created_at"], attempts)
            through = ContactAttempt.techniques.through
            writer.write(through._meta.db_table, ["contactattempt_id", "technique_id"], links)
            writer.write(PromiseToPay, ["id", "case_id", "amount", "due_date", "method", "status", "amount_paid", "created_by_id",
                                        "contact_attempt_id", "created_at", "resolved_at"], promises)
            writer.write(Payment, ["id", "case_id", "amount", "received_on", "method", "reference", "idempotency_key",
                                   "posted_by_id", "created_at"], payments)
            writer.write(PaymentPlan, ["id", "case_id", "status", "total_amount", "discount_amount", "instalment_count",
                                       "frequency", "first_due_date", "created_by_id", "approved_by_id", "created_at"], plans)
            writer.write(Instalment, ["id", "plan_id", "number", "due_date", "amount", "amount_paid", "status"], instalments)
            writer.write(Barrier, ["id", "case_id", "kind", "description", "status", "opened_by_id", "opened_at",
                                   "removed_by_id", "removed_at"], barriers)
        writer.reset_sequences(tables)
    seconds = time.perf_counter() - start
    rows = sum(writer.counts.values())
    return {
        "created_cases": todo,
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds, 1) if seconds else 0.0,
        "tables": dict(writer.counts),
    }
