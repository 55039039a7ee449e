"""Value parsers and format detection: table tests, no database."""

from __future__ import annotations

import datetime as dt
import io
import random
from decimal import Decimal

import phonenumbers
import pytest

from collections_crm.imports.parsing import (
    CsvRows,
    Dialect,
    ValueProblem,
    detect_decimal_comma,
    detect_dialect,
    detect_encoding,
    parse_amount,
    parse_date,
    parse_phone,
    parse_phones,
)
from collections_crm.imports.rows import suggest_mapping


@pytest.mark.parametrize(
    "text,decimal_comma,expected",
    [
        ("1.234,56", True, "1234.56"),
        ("1.234,56", False, "1234.56"),  # both separators: the last one is the decimal point
        ("1,234.56", True, "1234.56"),
        ("1234,5", True, "1234.50"),
        ("1234,5", False, "1234.50"),
        ("1.234", True, "1234.00"),
        ("1,234", False, "1234.00"),
        ("1.234.567", False, "1234567.00"),
        ("€ 1 234,56", True, "1234.56"),
        ("1\u00a0234,56 EUR", True, "1234.56"),
        ("  99.90 ", False, "99.90"),
        ("-", True, "0.00"), ("- €", True, "0.00"), ("–", False, "0.00"),  # an accounting zero
        ("(100,00)", True, "-100.00"), ("1.234,56-", True, "-1234.56"), ("(1,234.50)", False, "-1234.50"),
        ("1234.56", True, "1234.56"),
        ("-12,5", True, "-12.50"),
        (1234, True, "1234.00"),
        (1234.5, False, "1234.50"),
    ],
)
def test_amounts(text, decimal_comma, expected):
    assert parse_amount(text, decimal_comma=decimal_comma) == Decimal(expected)


@pytest.mark.parametrize(
    "text,decimal_comma,problem",
    [("abc", True, "not_number"), ("1,2,3,4", False, "not_number"), ("12,345", True, "too_many_decimals"),
     ("1.2345", False, "too_many_decimals"), ("12.34.5", False, "not_number"), ("", True, "empty"), ("NaN", False, "not_number"),
     ("1e400", False, "not_number"), ("9999999999999", False, "too_large"),
     # Thousands groups repeat without bound: the usual shapes are size-checked too (numeric(14,2) would fail the import).
     ("1.000.000.000.000,00", True, "too_large"), ("1,000,000,000,000.00", False, "too_large"),
     ("(-5)", True, "not_number"), ("-5-", True, "not_number"), ("5--", True, "not_number"), ("()", True, "not_number")],
)
def test_bad_amounts(text, decimal_comma, problem):
    with pytest.raises(ValueProblem) as info:
        parse_amount(text, decimal_comma=decimal_comma)
    assert str(info.value) == problem


@pytest.mark.parametrize(
    "text,day_first,expected",
    [("31/01/2025", True, dt.date(2025, 1, 31)), ("03/04/2025", True, dt.date(2025, 4, 3)),
     ("03/04/2025", False, dt.date(2025, 3, 4)), ("3.4.25", True, dt.date(2025, 4, 3)), ("2025-04-03", True, dt.date(2025, 4, 3)),
     ("2025-04-03 00:00:00", True, dt.date(2025, 4, 3)), ("03-04-1999", True, dt.date(1999, 4, 3)),
     (dt.datetime(2025, 4, 3, 10, 0), True, dt.date(2025, 4, 3)),
     # Month names, Spanish and English; a spreadsheet's serial number.
     ("05-mar-2024", True, dt.date(2024, 3, 5)), ("5 de marzo de 2024", True, dt.date(2024, 3, 5)),
     ("05/Sept/24", True, dt.date(2024, 9, 5)), ("1 Dic 2023", True, dt.date(2023, 12, 1)), ("31-ago.-2025", True, dt.date(2025, 8, 31)),
     ("45000", True, dt.date(2023, 3, 15)), ("45292.0", True, dt.date(2024, 1, 1)), (45292, True, dt.date(2024, 1, 1)),
     (45292.0, True, dt.date(2024, 1, 1))],
)
def test_dates(text, day_first, expected):
    assert parse_date(text, day_first=day_first) == expected


@pytest.mark.parametrize("text", ["31/02/2025", "2025-13-01", "mañana", "13/13/2025", "31-feb-2025", "5 de marzzo de 2024",
                                  "12345", "99999", "4500", "45000.5"])
def test_bad_dates(text):
    with pytest.raises(ValueProblem):
        parse_date(text, day_first=True)


@pytest.mark.parametrize(
    "text,country,expected",
    [("612 345 678", "ES", "+34612345678"), ("+34 612-34-56-78", "ES", "+34612345678"), ("0034612345678", "ES", "+34612345678"),
     ("(+34) 912 345 678", "ES", "+34912345678"), ("91 234 56 78", "ES", "+34912345678"), ("+1 212 555 0199", "ES", "+12125550199"),
     ("55 1234 5678", "MX", "+525512345678"), (612345678, "ES", "+34612345678")],
)
def test_phones_in_national_and_international_forms(text, country, expected):
    assert parse_phone(text, country=country) == expected


@pytest.mark.parametrize("text", ["12", "612 345", "+34 512 345 678 9", "teléfono"])
def test_bad_phones(text):
    with pytest.raises(ValueProblem):
        parse_phone(text, country="ES")


@pytest.mark.parametrize(
    "text,expected",
    [("612 345 678 / 912 345 678", "+34612345678 +34912345678"), ("612345678, 912345678", "+34612345678 +34912345678"),
     ("612345678; 612 345 678", "+34612345678"), ("612345678 o 712345678", "+34612345678 +34712345678"),
     ("91/234 56 78", "+34912345678"), ("612345678.0", "+34612345678"), (612345678.0, "+34612345678"), ("+34 612 345 678", "+34612345678")],
)
def test_several_phones_in_one_cell(text, expected):
    assert parse_phones(text, country="ES") == expected


@pytest.mark.parametrize("text", ["612345678 / 12", "612345678 / abc", "612345678.5"])
def test_a_cell_with_a_bad_phone_among_good_ones_is_refused(text):
    with pytest.raises(ValueProblem):
        parse_phones(text, country="ES")


def test_fast_spanish_mobile_path_agrees_with_libphonenumber():
    rng = random.Random(7)
    for _ in range(3000):
        national = rng.choice("6789") + "".join(rng.choice("0123456789") for _ in range(8))
        parsed = phonenumbers.parse(national, "ES")
        expected = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) if phonenumbers.is_valid_number(parsed) else None
        try:
            got = parse_phone(national, country="ES")
        except ValueProblem:
            got = None
        assert got == expected, national


@pytest.mark.parametrize(
    "raw,encoding",
    [("Nombre;Importe\nJosé;1,5\n".encode("utf-8-sig"), "utf-8-sig"), ("Nombre;Importe\nJosé;1,5\n".encode(), "utf-8"),
     ("Nombre;Importe\nJosé Núñez;1,5\n€\n".encode("cp1252"), "cp1252"), (b"Nombre\n\x81\xe9\n", "latin-1")],
)
def test_encoding_detection(raw, encoding):
    assert detect_encoding(io.BytesIO(raw)) == encoding


def test_encoding_detection_reads_past_the_sample():
    """A Windows-1252 byte after 64 KB of plain ASCII still counts."""
    raw = b"a;b\n" + b"x;1\n" * 40_000 + "Muñoz;2\n".encode("cp1252")
    assert detect_encoding(io.BytesIO(raw)) == "cp1252"


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiter_detection(delimiter):
    text = delimiter.join(["Referencia", "Nombre", "Importe"]) + "\n" + delimiter.join(["A-1", '"Pérez, José"', "1.234,56"]) + "\n"
    assert detect_dialect(io.BytesIO(text.encode())).delimiter == delimiter


def test_delimiter_detection_past_a_title_line():
    text = "Cartera, octubre 2026\nRef;Nombre;Importe\nA-1;Pérez, José;1.234,56\nA-2;Gil;99,90\nTOTAL;;1.334,46\n"
    assert detect_dialect(io.BytesIO(text.encode())).delimiter == ";"


def test_csv_lines_count_quoted_newlines():
    raw = 'ref;nota\nA;"dos\nlíneas"\nB;x\n'.encode()
    rows = list(CsvRows(io.BytesIO(raw), Dialect("utf-8", ";")))
    assert [(line, cells[0]) for line, cells in rows] == [(1, "ref"), (2, "A"), (4, "B")]


@pytest.mark.parametrize(
    "samples,delimiter,expected",
    [(["1.234,56"], ",", True), (["1234.50"], ";", False), (["1,234.00"], ";", False), (["100"], ";", True), (["100"], ",", False)],
)
def test_decimal_style_detection(samples, delimiter, expected):
    assert detect_decimal_comma(samples, delimiter=delimiter) is expected


@pytest.mark.parametrize(
    "kind,headers,expected",
    [
        # A Spanish bank's export: numbered, abbreviated, two-word headers.
        ("portfolio",
         ["Nº Expediente", "NIF/NIE", "Titular", "Teléfono móvil", "E-mail", "Importe deuda", "Gastos gestión", "Saldo pendiente",
          "Fecha vencimiento"],
         {"reference": "Nº Expediente", "document_number": "NIF/NIE", "name": "Titular", "phone": "Teléfono móvil",
          "email": "E-mail", "original_amount": "Importe deuda", "fees": "Gastos gestión", "balance": "Saldo pendiente",
          "due_date": "Fecha vencimiento"}),
        # The exact name wins over a longer header holding it, whatever the column order.
        ("portfolio", ["Importe pendiente", "Importe", "Referencia", "DNI", "Nombre y apellidos", "Vencimiento"],
         {"reference": "Referencia", "document_number": "DNI", "name": "Nombre y apellidos", "original_amount": "Importe",
          "balance": "Importe pendiente", "due_date": "Vencimiento"}),
        # "Tipo de documento" is the document type, not the identity document, and no column is used twice.
        ("portfolio", ["Tipo de documento", "Documento", "Tipo de interés", "Teléfono 1", "Teléfono 2"],
         {"document_number": "Documento", "document_type": "Tipo de documento", "phone": "Teléfono 1", "phone_other": "Teléfono 2"}),
        # A landline beside the mobile.
        ("portfolio", ["Teléfono", "Móvil", "Teléfono fijo"], {"phone": "Teléfono", "phone_other": "Teléfono fijo"}),
        ("portfolio", ["Móvil", "Teléfono fijo"], {"phone": "Móvil", "phone_other": "Teléfono fijo"}),
        # English headers.
        ("portfolio", ["Account Number", "SSN", "Customer Name", "Original Amount", "Outstanding Balance", "Due Date", "Email Address"],
         {"reference": "Account Number", "document_number": "SSN", "name": "Customer Name", "email": "Email Address",
          "original_amount": "Original Amount", "balance": "Outstanding Balance", "due_date": "Due Date"}),
        # A bank statement.
        ("payments", ["Fecha de pago", "Concepto", "Importe", "Medio de pago", "Referencia bancaria"],
         {"reference": "Concepto", "amount": "Importe", "received_on": "Fecha de pago", "method": "Medio de pago",
          "payment_reference": "Referencia bancaria"}),
        # The number or id OF a customer is an identifier, not the debtor's name; the case file's number is the better reference.
        ("portfolio", ["Nº Cliente", "N.º Expediente", "Cliente", "Importe"],
         {"reference": "N.º Expediente", "name": "Cliente", "original_amount": "Importe"}),
        ("portfolio", ["Customer ID", "Customer", "Amount"], {"reference": "Customer ID", "name": "Customer", "original_amount": "Amount"}),
        # Nothing recognisable: nothing guessed.
        ("portfolio", ["Columna A", "Columna B", ""], {}),
    ],
)
def test_column_mapping_guess(kind, headers, expected):
    assert suggest_mapping(kind, headers) == expected
