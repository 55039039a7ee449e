"""The print batch's letters: a personal link in a letter's text is printed as a QR code beside
it, and a short code comes with where to type it; a letter without either has neither."""

from __future__ import annotations

import re
import zlib

from django.conf import settings
from django.utils import translation

from contacts.messaging.letters import portal_code_in, portal_link_in, render_letters_pdf

LINK = f"{settings.CRM_PORTAL_BASE_URL}/p/o/AbC-dEf_0123456789abcdefghijklmnopqrstuvwxyz/"


def _letter(body: str, language: str = "es") -> dict:
    return {"recipient": "Ana Gil\nCalle Mayor 1\n28013 Madrid", "subject": "Su deuda", "body": body, "date": "04/12/2026",
            "language": language}


def _images(pdf: bytes) -> int:
    return len(re.findall(rb"/Subtype\s*/Image", pdf))


def _text(pdf: bytes) -> str:
    """The page contents, inflated (fpdf2 compresses them)."""
    out = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            continue
    return "\n".join(out)


def test_a_letter_with_a_personal_link_gets_a_qr_code_and_the_code_line():
    body = f"Estimada Ana:\nPuede pagar aquí: {LINK}\nSu código: 7K3QX-M9PZ2\nUn saludo."
    pdf = render_letters_pdf([_letter(body)])
    assert pdf.startswith(b"%PDF") and _images(pdf) == 1
    text = _text(pdf)
    assert f"O entre en {settings.CRM_PORTAL_BASE_URL}/p/ y escriba su código." in text
    assert "Escanee para" in text  # the caption under the code (wrapped in its narrow cell)


def test_the_lines_the_letter_adds_are_in_the_letters_language():
    body = f"Dear Ana, pay here: {LINK} code 7K3QX-M9PZ2"
    with translation.override("es"):
        text = _text(render_letters_pdf([_letter(body, "en")]))
    assert f"Or go to {settings.CRM_PORTAL_BASE_URL}/p/ and type your code." in text


def test_a_letter_without_a_link_has_no_qr_code_nor_code_line():
    pdf = render_letters_pdf([_letter("Estimada Ana:\nLe recordamos su deuda de 120 EUR.\nUn saludo.")])
    assert _images(pdf) == 0
    assert "escriba su código" not in _text(pdf)


def test_a_link_to_another_site_is_not_a_personal_link():
    assert portal_link_in("pague en https://evil.example/p/o/abc/") == ""
    assert portal_link_in(f"x {LINK} y") == LINK
    assert _images(render_letters_pdf([_letter("https://evil.example/p/o/abc/")])) == 0
    # Only the short code's shape (no I, L, O, U; two groups of five) is read as one.
    assert portal_code_in("7K3QX-M9PZ2") and not portal_code_in("REF-000123") and not portal_code_in("ABCDE-FGHIL")


def test_a_batch_mixes_letters_with_and_without_links():
    pdf = render_letters_pdf([_letter(f"uno {LINK}"), _letter("dos"), _letter(f"tres {LINK.replace('AbC', 'XyZ')}")])
    assert _images(pdf) == 2
