"""Reading real-world spreadsheets as a stream: encoding, delimiter, number and date styles.

Nothing here touches the database. Readers yield (line number, list of cell texts) and never
hold more than one row; detection reads a bounded sample (plus one pass over the raw bytes to
check the encoding, which costs about a tenth of a second per 100 MB).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import BinaryIO

from django.utils.translation import gettext as _

from .limits import NO_DEADLINE, Deadline, FileRefused, limit, open_workbook

SAMPLE_BYTES = 64 * 1024
SNIFF_CHARS = 8 * 1024
DELIMITERS = ",;\t"


@dataclass
class Dialect:
    encoding: str
    delimiter: str


def detect_encoding(stream: BinaryIO) -> str:
    """UTF-16 with its BOM; UTF-8 (with or without BOM) when every byte of the file decodes as
    UTF-8, otherwise Windows-1252, or Latin-1 for the five bytes Windows-1252 leaves undefined."""
    stream.seek(0)
    head = stream.read(3)
    if head == codecs.BOM_UTF8:
        stream.seek(0)
        return "utf-8-sig"
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):  # Excel's "Unicode text" export
        stream.seek(0)
        return "utf-16"
    stream.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    cp1252_ok = True
    utf8_ok = True
    while chunk := stream.read(1024 * 1024):
        if utf8_ok:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                utf8_ok = False
        if not utf8_ok and cp1252_ok:
            cp1252_ok = not any(b in chunk for b in (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"))
        if not utf8_ok and not cp1252_ok:
            break
    if utf8_ok:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    stream.seek(0)
    if utf8_ok:
        return "utf-8"
    return "cp1252" if cp1252_ok else "latin-1"


def detect_delimiter(sample: str) -> str:
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    if not lines:
        return ","
    text = "\n".join(lines)
    if len(text) > SNIFF_CHARS:
        # The Sniffer's regular expressions take quadratic time on quotes (64 KB of ',"' took
        # 25 s): it sees the whole lines that fit in SNIFF_CHARS (0.3 s at worst).
        cut = text.rfind("\n", 0, SNIFF_CHARS)
        text = text[: cut if cut > 0 else SNIFF_CHARS]
    try:
        return csv.Sniffer().sniff(text, delimiters=DELIMITERS).delimiter
    except csv.Error:
        # Lines of different shapes (a title above the header, a total below): the delimiter
        # that splits the most lines into one same number (two or more) of columns.
        def score(delimiter: str) -> tuple[int, int]:
            widths = Counter(len(cells) for cells in csv.reader(lines, delimiter=delimiter) if len(cells) > 1)
            if not widths:
                return (0, 0)
            width, count = widths.most_common(1)[0]
            return (count, width)

        return max(DELIMITERS, key=score)


def detect_dialect(stream: BinaryIO) -> Dialect:
    encoding = detect_encoding(stream)
    sample = stream.read(SAMPLE_BYTES).decode(encoding, errors="ignore")
    stream.seek(0)
    return Dialect(encoding=encoding, delimiter=detect_delimiter(sample))


class _CountingReader(io.RawIOBase):
    """Counts the bytes read, so progress can be reported without knowing the row count, and
    notes whether a zero byte went by (then the rows are checked for NUL characters)."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.bytes_read = 0
        self.saw_zero = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.bytes_read += n
        if not self.saw_zero and b"\x00" in data:
            self.saw_zero = True
        return n


def _bounded_lines(text: io.TextIOBase, *, most: int, deadline: Deadline) -> Iterator[str]:
    """The physical lines of ``text``, none longer than ``most`` characters: a file of one
    endless line must not be read whole (nor split into millions of cells)."""
    readline = text.readline
    number = 0
    while line := readline(most + 1):
        number += 1
        if len(line) > most and line[-1] not in "\r\n":
            raise FileRefused(_("Line %(line)d of the file is longer than %(n)d characters; no row of a portfolio is that long.")
                              % {"line": number, "n": most})
        if not number & 255:
            deadline.check()
        yield line


class CsvRows:
    """Iterate (line number, cells) of a CSV file; line numbers are the file's physical lines
    (a quoted cell spanning lines counts them all), the header being line 1."""

    def __init__(self, stream: BinaryIO, dialect: Dialect, *, deadline: Deadline = NO_DEADLINE):
        stream.seek(0)
        self.encoding = dialect.encoding
        self.counter = _CountingReader(stream)
        text = io.TextIOWrapper(io.BufferedReader(self.counter, buffer_size=1024 * 1024), encoding=dialect.encoding, newline="")
        lines = _bounded_lines(text, most=limit("CRM_IMPORT_MAX_LINE_CHARS"), deadline=deadline)
        self.reader = csv.reader(lines, delimiter=dialect.delimiter)

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        reader = self.reader
        start = 1
        try:
            for cells in reader:
                yield start, cells
                start = reader.line_num + 1
        except csv.Error as exc:
            raise FileRefused(_("Line %(line)d of the file could not be read as CSV: a cell longer than %(n)d characters, "
                                "or a quote that is never closed.") % {"line": start, "n": csv.field_size_limit()}) from exc
        except UnicodeDecodeError as exc:
            raise FileRefused(_("Near line %(line)d the file is not valid %(encoding)s text; save it again as UTF-8 and upload "
                                "that.") % {"line": start, "encoding": self.encoding}) from exc

    @property
    def bytes_read(self) -> int:
        return self.counter.bytes_read

    @property
    def may_hold_nul(self) -> bool:
        """Whether a row read so far may hold a NUL character (PostgreSQL's text refuses it)."""
        return self.encoding.startswith("utf-16") or self.counter.saw_zero


class XlsxRows:
    """Iterate (row number, cells) of one sheet of an XLSX workbook, in read-only (streaming)
    mode: the first, or the one ``choose_sheet(sheets)`` picks when there are several. Cells
    keep their types (numbers, dates) for the value parsers."""

    def __init__(self, stream: BinaryIO, *, choose_sheet=None, deadline: Deadline = NO_DEADLINE):
        stream.seek(0)
        # Through the limits (limits.py): the zip's directory is checked before anything is
        # inflated, and no cell may be longer than a cell can be.
        self.workbook = open_workbook(stream, deadline=deadline)
        sheets = self.workbook.worksheets
        self.sheet = choose_sheet(sheets) if choose_sheet and len(sheets) > 1 else sheets[0]
        self.rows_done = 0

    # (openpyxl turns an escaped "_x0000_" in a cell into a NUL.)
    may_hold_nul = True

    @property
    def max_row(self) -> int | None:
        return self.sheet.max_row

    def __iter__(self) -> Iterator[tuple[int, list]]:
        try:
            for number, row in enumerate(self.sheet.iter_rows(values_only=True), start=1):
                self.rows_done = number
                yield number, ["" if v is None else v for v in row]
        finally:
            self.workbook.close()


def holds_nul(cells: list) -> bool:
    return any(cell.__class__ is str and "\x00" in cell for cell in cells)


def is_blank_cell(cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def is_blank(cells) -> bool:
    return all(map(is_blank_cell, cells))


# --- Values ---------------------------------------------------------------------------------


class ValueProblem(ValueError):
    """A cell that cannot be read; the message is shown to the user."""


_CURRENCY_NOISE = re.compile(r"[\s\u00a0\u202f€$£']|EUR|USD|MXN", re.IGNORECASE)
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_EU_AMOUNT = re.compile(r"-?(?:\d{1,3}(?:\.\d{3})+|\d{1,12})(?:,\d{1,2})?")
_US_AMOUNT = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d{1,12})(?:\.\d{1,2})?")
CENT = Decimal("0.01")
_DASHES = ("-", "\u2013", "\u2014")
_TOO_LARGE = Decimal("1e12")


def parse_amount(value, *, decimal_comma: bool) -> Decimal:
    """Money with up to two decimals: "1.234,56", "1,234.56", "1234,5", "€ 1 234,56", 1234.5."""
    if isinstance(value, bool):
        raise ValueProblem("not_number")
    if isinstance(value, int):
        return Decimal(value).quantize(Decimal("0.01"))
    if isinstance(value, float):
        return Decimal(repr(value)).quantize(Decimal("0.01"))
    text = str(value)
    # Fast paths for the usual shapes ("1.234,56" or "1,234.56"); anything else is normalised below.
    # (Thousands groups repeat without bound, so the size is checked here too: "1.000.000.000.000,00"
    # would not fit the database's numeric(14,2) and fail the whole import.)
    if decimal_comma and _EU_AMOUNT.fullmatch(text):
        number = Decimal(text.replace(".", "").replace(",", ".")).quantize(CENT)
        if abs(number) >= _TOO_LARGE:
            raise ValueProblem("too_large")
        return number
    if not decimal_comma and _US_AMOUNT.fullmatch(text):
        number = Decimal(text.replace(",", "")).quantize(CENT)
        if abs(number) >= _TOO_LARGE:
            raise ValueProblem("too_large")
        return number
    text = _CURRENCY_NOISE.sub("", text)
    if not text:
        raise ValueProblem("empty")
    if text in _DASHES:  # accounting formats show a zero as a dash
        return Decimal("0.00")
    # Accounting negatives, "(100,00)" and "100,00-", read as negative (and refused as such).
    sign = 1
    if len(text) > 2 and text[0] == "(" and text[-1] == ")":
        text, sign = text[1:-1], -1
    elif len(text) > 1 and text[-1] in _DASHES and text[0] not in _DASHES:
        text, sign = text[:-1], -1
    if sign < 0 and text[:1] in _DASHES:
        raise ValueProblem("not_number")  # "(-5)": no guessing which sign was meant
    if not _PLAIN_NUMBER.fullmatch(text) or (decimal_comma and "." in text):
        text = _normalise_separators(text, decimal_comma=decimal_comma)
    try:
        number = Decimal(text) * sign
    except InvalidOperation:
        raise ValueProblem("not_number")
    if not number.is_finite():
        raise ValueProblem("not_number")
    if number != number.quantize(Decimal("0.01")):
        raise ValueProblem("too_many_decimals")
    if abs(number) >= Decimal("1e12"):
        raise ValueProblem("too_large")
    return number.quantize(Decimal("0.01"))


def _normalise_separators(text: str, *, decimal_comma: bool) -> str:
    negative = text.startswith("-")
    text = text.lstrip("-")
    if not re.fullmatch(r"[\d.,]+", text):
        raise ValueProblem("not_number")
    if "," in text and "." in text:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
    elif text.count(",") > 1 or text.count(".") > 1:
        decimal = None  # a separator that repeats groups thousands
    elif "," in text:
        decimal = "," if decimal_comma or not re.fullmatch(r"\d{1,3},\d{3}", text) else None
    else:
        decimal = "." if not decimal_comma or not re.fullmatch(r"\d{1,3}\.\d{3}", text) else None
    thousands = {",": ".", ".": ",", None: None}[decimal]
    int_part, _, frac = text.rpartition(decimal) if decimal else (text, "", "")
    groups = int_part.split(thousands) if thousands else int_part.replace(",", ".").split(".")
    if len(groups) > 1 and (not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:])):
        raise ValueProblem("not_number")
    digits = "".join(groups)
    if not digits.isdigit():
        raise ValueProblem("not_number")
    return ("-" if negative else "") + digits + ("." + frac if decimal else "")


def detect_decimal_comma(samples: list, *, delimiter: str) -> bool:
    """Decide the file's decimal separator from sample amounts; ';' files are usually Spanish."""
    for value in samples:
        text = _CURRENCY_NOISE.sub("", str(value)) if isinstance(value, str) else ""
        if re.search(r"\d,\d{1,2}$", text) or re.search(r"\d\.\d{3},", text):
            return True
        if re.search(r"\d\.\d{1,2}$", text) or re.search(r"\d,\d{3}\.", text):
            return False
    return delimiter == ";"


_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?")
_LOCAL = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})(?: .*)?")


# "05-mar-2024", "5 de marzo de 2024", "05/Mar/24": a month by its Spanish or English name.
_NAMED = re.compile(r"(\d{1,2})(?:[ /.\-]|\s+de\s+)([a-z]+)\.?(?:[ /.\-]|\s+de\s+)(\d{2}|\d{4})(?: .*)?")
_MONTHS = {
    **{name: n for n, names in enumerate([
        ("ene", "enero", "jan", "january"), ("feb", "febrero", "february"), ("mar", "marzo", "march"),
        ("abr", "abril", "apr", "april"), ("may", "mayo"), ("jun", "junio", "june"), ("jul", "julio", "july"),
        ("ago", "agosto", "aug", "august"), ("sep", "sept", "set", "septiembre", "setiembre", "september"),
        ("oct", "octubre", "october"), ("nov", "noviembre", "november"), ("dic", "diciembre", "dec", "december"),
    ], start=1) for name in names},
}
# A spreadsheet's date as its serial number (days since 30/12/1899) when the cell lost its date
# format: 5 digits, 1954-09-30 to 2119-01-31, nothing else a date column would hold.
_SERIAL = re.compile(r"([2-8]\d{4})(?:\.0+)?")
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def parse_date(value, *, day_first: bool = True) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return _parse_date_text(str(value).strip(), day_first)


@lru_cache(maxsize=4096)  # a file repeats the same few hundred dates
def _parse_date_text(text: str, day_first: bool) -> dt.date:
    if m := _ISO.fullmatch(text):
        year, month, day = (int(g) for g in m.groups())
    elif m := _LOCAL.fullmatch(text):
        first, second, year = (int(g) for g in m.groups())
        day, month = (first, second) if day_first else (second, first)
        if len(m.group(3)) == 2:
            year += 2000 if year < 70 else 1900
    elif m := _SERIAL.fullmatch(text):
        return _EXCEL_EPOCH + dt.timedelta(days=int(m.group(1)))
    elif (m := _NAMED.fullmatch(text.lower())) and m.group(2) in _MONTHS:
        day, month, year = int(m.group(1)), _MONTHS[m.group(2)], int(m.group(3))
        if len(m.group(3)) == 2:
            year += 2000 if year < 70 else 1900
    else:
        raise ValueProblem("not_date")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueProblem("not_date")


_PHONE_NOISE = re.compile(r"[\s\-.()/]")
_FLOAT_TAIL = re.compile(r"(?<=\d)\.0+$")
# Spanish mobile ranges (6xx, 71x-74x, 78x), the bulk of any Spanish portfolio; everything else
# goes through libphonenumber, which costs ~20 µs a number (tests check both agree).
_ES_MOBILE = re.compile(r"(?:\+34|0034)?(6\d{8}|7[1-48]\d{7})")


# Between two numbers in one cell: "612345678 / 912345678", "612…; 912…", "612… y 912…".
_PHONE_SEPARATORS = re.compile(r"\s*(?:[/;,|]|\s(?:y|o|and|or)\s)\s*", re.IGNORECASE)
_DIGITS = re.compile(r"\d")


def parse_phones(value, *, country: str) -> str:
    """Every number of a cell, in E.164, joined by spaces (one contact point each): a cell may
    hold several ("612 345 678 / 912 345 678"). A part that is not a number refuses the cell."""
    if not isinstance(value, str):
        return parse_phone(value, country=country)
    parts = [p for p in _PHONE_SEPARATORS.split(value) if p.strip()]
    # A separator inside one number ("91/234 56 78") leaves a part too short to be a number.
    if len(parts) < 2 or any(len(_DIGITS.findall(p)) < 6 for p in parts):
        parts = [value]
    numbers = dict.fromkeys(parse_phone(p, country=country) for p in parts)
    return " ".join(numbers)


def split_phones(value, *, country: str) -> tuple[list[str], list[str]]:
    """(numbers in E.164, parts that are no number, as written) of a phone cell: the lenient
    reading of ``parse_phones``, where a bad number is kept apart instead of refusing the cell."""
    if not isinstance(value, str):
        try:
            return [parse_phone(value, country=country)], []
        except ValueProblem:
            return [], [str(value)]
    parts = [p for p in _PHONE_SEPARATORS.split(value) if p.strip()]
    if len(parts) < 2 or any(len(_DIGITS.findall(p)) < 6 for p in parts):
        parts = [value]
    good: dict[str, None] = {}
    bad: list[str] = []
    for part in parts:
        try:
            good[parse_phone(part, country=country)] = None
        except ValueProblem:
            bad.append(" ".join(part.split()))
    return list(good), bad


def parse_phone(value, *, country: str) -> str:
    """E.164 from national ("612 345 678") or international ("+34 612…", "0034 612…") forms."""
    if isinstance(value, str):
        value = _FLOAT_TAIL.sub("", value.strip())  # "612345678.0": a number that went through a float
    text = _PHONE_NOISE.sub("", str(value))
    if isinstance(value, (int, float)):
        text = str(int(value))
    if country == "ES" and (m := _ES_MOBILE.fullmatch(text)):
        return "+34" + m.group(1)
    import phonenumbers

    try:
        parsed = phonenumbers.parse(text, country or "ES")
    except phonenumbers.NumberParseException:
        raise ValueProblem("not_phone")
    if not phonenumbers.is_valid_number(parsed):
        raise ValueProblem("not_phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
