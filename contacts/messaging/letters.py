"""Letters: each day's letters are rendered together into one PDF (fpdf2) for printing.

A letter whose body carries the debtor's personal link (``{{ payment_link }}``) gets a QR code of
it beside the text, so the debtor opens the portal from their phone's camera; one that carries
the short code (``{{ portal_code }}``) also says where to type it."""

from __future__ import annotations

import io
import re

import segno
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from fpdf import FPDF

QR_SIZE_MM = 32
# What links.format_code prints: two groups of five of Crockford's base32 (no I, L, O, U).
_CODE_RE = re.compile(r"(?<![0-9A-Z])[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}(?![0-9A-Z])")


def portal_link_in(body: str) -> str:
    """The personal link a letter's body carries (``<CRM_PORTAL_BASE_URL>/p/o/<token>/``), or ""."""
    pattern = re.escape(settings.CRM_PORTAL_BASE_URL) + r"/p/o/[A-Za-z0-9_\-]+/"
    match = re.search(pattern, body or "")
    return match.group(0) if match else ""


def portal_code_in(body: str) -> bool:
    return bool(_CODE_RE.search(body or ""))


def _qr_png(url: str) -> io.BytesIO:
    # Medium error correction survives a fold or a smudge; a border of two modules is the quiet zone.
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=8, border=2)
    out.seek(0)
    return out


def render_letters_pdf(letters: list[dict]) -> bytes:
    """One A4 page (or more) per letter: ``{"recipient", "subject", "body", "date"}`` and, optionally,
    ``"language"`` (of the lines the letter adds to the template's text)."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(22, 20, 22)
    for letter in letters:
        pdf.add_page()
        pdf.set_font("Helvetica", size=10)
        pdf.multi_cell(0, 5, pdf_text(letter["recipient"]))
        pdf.ln(10)
        pdf.cell(0, 5, pdf_text(letter["date"]), new_x="LMARGIN", new_y="NEXT", align="R")
        pdf.ln(6)
        pdf.set_font("Helvetica", style="B", size=11)
        pdf.multi_cell(0, 6, pdf_text(letter["subject"]))
        pdf.ln(4)
        pdf.set_font("Helvetica", size=11)
        link = portal_link_in(letter["body"])
        with translation.override(letter.get("language") or translation.get_language()):
            if link:
                _body_beside_qr(pdf, letter["body"], link)
            else:
                pdf.multi_cell(0, 6, pdf_text(letter["body"]))
            if portal_code_in(letter["body"]):
                pdf.ln(3)
                pdf.multi_cell(0, 6, pdf_text(_("Or go to %(url)s and type your code.") % {"url": f"{settings.CRM_PORTAL_BASE_URL}/p/"}))
    return bytes(pdf.output())


def _body_beside_qr(pdf: FPDF, body: str, link: str) -> None:
    """The text in a column to the left and the QR code on the right of its first lines."""
    top, right, page = pdf.get_y(), pdf.w - pdf.r_margin, pdf.page
    gap = 6
    pdf.image(_qr_png(link), x=right - QR_SIZE_MM, y=top, w=QR_SIZE_MM, h=QR_SIZE_MM)
    pdf.set_xy(right - QR_SIZE_MM, top + QR_SIZE_MM)
    pdf.set_font("Helvetica", size=8)
    pdf.multi_cell(QR_SIZE_MM, 4, pdf_text(_("Scan to open your page")), align="C")
    pdf.set_font("Helvetica", size=11)
    pdf.set_xy(pdf.l_margin, top)
    pdf.multi_cell(pdf.epw - QR_SIZE_MM - gap, 6, pdf_text(body))
    if pdf.page == page:  # a short text: go on below the code and its caption
        pdf.set_y(max(pdf.get_y(), top + QR_SIZE_MM + 10))
    pdf.set_x(pdf.l_margin)


def pdf_text(text: str) -> str:
    # The core PDF fonts cover Latin-1 (Spanish accents, ñ, ¿¡); anything else (€ included) is
    # spelled out or replaced rather than failing the whole batch.
    text = (text or "").replace("€", "EUR").replace("\u202f", " ").replace("—", "-").replace("→", "->").replace("“", '"').replace("”", '"')
    return text.encode("latin-1", "replace").decode("latin-1")
