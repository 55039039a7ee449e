"""The statement a debtor downloads from the portal (PDF, fpdf2): what is owed and what was paid."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext as _
from fpdf import FPDF

from cases.models import Case
from collections_crm.core.money import format_money
from contacts.messaging.letters import pdf_text


def statement_pdf(*, case: Case, payments: list, today: dt.date) -> bytes:
    """One page: creditor, reference, the amounts and the payments received (newest first)."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(22, 20, 22)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.cell(0, 8, pdf_text(_("Statement of account")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 6, pdf_text(f"{settings.CRM_COMPANY_NAME} · {formats.date_format(today, 'SHORT_DATE_FORMAT')}"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    money = lambda amount: pdf_text(format_money(amount, case.currency))  # noqa: E731 - a local shorthand
    rows = [
        (_("Creditor"), case.creditor.name),
        (_("Reference"), case.reference),
        (_("Debtor"), case.debtor.name),
        (_("Due date"), formats.date_format(case.due_date, "SHORT_DATE_FORMAT")),
        (_("Original amount"), money(case.original_amount)),
        (_("Fees"), money(case.fees)),
        (_("Paid"), money(case.original_amount + case.fees - case.balance)),
        (_("Balance"), money(case.balance)),
    ]
    for label, value in rows:
        pdf.set_font("Helvetica", style="B", size=10)
        pdf.cell(55, 6, pdf_text(str(label)))
        pdf.set_font("Helvetica", size=10)
        pdf.cell(0, 6, pdf_text(str(value)), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.cell(0, 7, pdf_text(_("Payments received")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    if not payments:
        pdf.cell(0, 6, pdf_text(_("No payments yet.")), new_x="LMARGIN", new_y="NEXT")
    for payment in payments:
        pdf.cell(40, 6, pdf_text(formats.date_format(payment.received_on, "SHORT_DATE_FORMAT")))
        pdf.cell(45, 6, pdf_text(str(payment.get_method_display())))
        pdf.cell(0, 6, money(payment.amount), new_x="LMARGIN", new_y="NEXT", align="R")
    return bytes(pdf.output())
