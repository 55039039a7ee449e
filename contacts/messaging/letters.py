"""Letters: each day's letters are rendered together into one PDF (fpdf2) for printing."""

from __future__ import annotations

from fpdf import FPDF


def render_letters_pdf(letters: list[dict]) -> bytes:
    """One A4 page (or more) per letter: ``{"recipient", "subject", "body", "date"}``."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(22, 20, 22)
    for letter in letters:
        pdf.add_page()
        pdf.set_font("Helvetica", size=10)
        pdf.multi_cell(0, 5, _latin1(letter["recipient"]))
        pdf.ln(10)
        pdf.cell(0, 5, _latin1(letter["date"]), new_x="LMARGIN", new_y="NEXT", align="R")
        pdf.ln(6)
        pdf.set_font("Helvetica", style="B", size=11)
        pdf.multi_cell(0, 6, _latin1(letter["subject"]))
        pdf.ln(4)
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, _latin1(letter["body"]))
    return bytes(pdf.output())


def _latin1(text: str) -> str:
    # The core PDF fonts cover Latin-1 (Spanish accents, ñ, ¿¡); anything else (€ included) is
    # spelled out or replaced rather than failing the whole batch.
    text = (text or "").replace("€", "EUR").replace("—", "-").replace("→", "->").replace("“", '"').replace("”", '"')
    return text.encode("latin-1", "replace").decode("latin-1")
