"""Target fields of each import kind, and the validation of one row into clean values.

Pure functions of the row and a context (no database): the same code feeds the PostgreSQL
COPY path and the row-batch path, so both see identical values and identical errors.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from itertools import chain, islice

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.choices import PaymentMethod
from debtors.validators import normalise_document, restore_dni_zeros, validate_document

from .limits import FileRefused, limit
from .parsing import (
    _EU_AMOUNT,
    _US_AMOUNT,
    CENT,
    ValueProblem,
    _parse_date_text,
    is_blank,
    parse_amount,
    parse_date,
    parse_phones,
    split_phones,
)


@dataclass(frozen=True)
class Target:
    name: str
    label: object
    required: bool = False
    aliases: tuple[str, ...] = ()
    # Required unless this other target has a column (one amount column is enough).
    or_else: str = ""


PORTFOLIO_TARGETS = [
    Target("reference", gettext_lazy("Case reference"), True, (
        "referencia", "ref", "expediente", "reference", "contrato", "numero expediente", "referencia expediente", "case reference",
        "account number", "account", "codigo cliente", "numero contrato", "operacion", "numero cliente", "id cliente",
        "customer number", "customer id", "client id", "numero cuenta")),
    Target("document_number", gettext_lazy("Identity document"), True, (
        "dni", "nif", "nie", "cif", "documento", "document", "document number", "dni nif", "id", "documento identidad", "rfc",
        "curp", "ssn", "tax id", "national id")),
    Target("document_type", gettext_lazy("Document type"), False, ("tipo documento", "tipo doc", "document type")),
    Target("name", gettext_lazy("Debtor name"), True, (
        "nombre", "name", "razon social", "titular", "deudor", "debtor", "nombre completo", "cliente", "customer", "full name",
        "nombre apellidos", "apellidos nombre")),
    Target("kind", gettext_lazy("Person or company"), False, ("tipo", "kind", "tipo persona", "tipo cliente", "persona")),
    Target("country", gettext_lazy("Country"), False, ("pais", "country")),
    Target("phone", gettext_lazy("Phone"), False, ("telefono", "movil", "phone", "mobile", "tel", "telefono movil", "celular", "telephone")),
    Target("phone_other", gettext_lazy("Other phone"), False, (
        "telefono 2", "otro telefono", "telefono fijo", "fijo", "telefono alternativo", "telefono trabajo", "movil", "phone 2",
        "other phone", "landline", "home phone", "work phone")),
    Target("email", gettext_lazy("E-mail"), False, ("email", "e-mail", "correo", "correo electronico", "mail", "email address")),
    Target("address", gettext_lazy("Postal address"), False, (
        "direccion", "domicilio", "direccion postal", "address", "postal address", "street address", "domicilio postal")),
    # The answers of the self-service portal's identity check (with the end of the document).
    Target("postal_code", gettext_lazy("Postal code"), False, (
        "codigo postal", "cp", "c p", "cod postal", "postal code", "postcode", "post code", "zip", "zip code", "zipcode")),
    Target("birth_date", gettext_lazy("Date of birth"), False, (
        "fecha de nacimiento", "fecha nacimiento", "f nacimiento", "nacimiento", "date of birth", "birth date", "birthdate",
        "dob", "born")),
    Target("original_amount", gettext_lazy("Original amount"), True, (
        "importe", "importe original", "principal", "original amount", "amount", "deuda", "importe deuda", "importe inicial",
        "deuda original", "importe total", "capital", "nominal", "importe impagado", "monto"), or_else="balance"),
    Target("fees", gettext_lazy("Fees"), False, ("gastos", "comisiones", "intereses", "fees", "gastos gestion", "interest", "charges")),
    Target("balance", gettext_lazy("Balance"), False, (
        "saldo", "saldo pendiente", "pendiente", "balance", "outstanding", "importe pendiente", "deuda pendiente", "saldo deudor",
        "saldo actual", "outstanding balance", "current balance")),
    Target("currency", gettext_lazy("Currency"), False, ("moneda", "divisa", "currency")),
    Target("due_date", gettext_lazy("Due date"), True, (
        "vencimiento", "fecha vencimiento", "due date", "fecha impago", "due", "fecha primer impago", "default date")),
    Target("placed_at", gettext_lazy("Placed on"), False, ("fecha cesion", "fecha asignacion", "placed", "placed at", "fecha alta")),
    Target("creditor", gettext_lazy("Creditor"), False, (
        "acreedor", "creditor", "cliente acreedor", "entidad", "cedente", "codigo acreedor", "creditor code", "original creditor",
        # (An agency's client is the creditor; the debtor's name column, if any other, is mapped first.)
        "cliente", "client")),
    Target("agent", gettext_lazy("Assigned agent"), False, (
        "gestor", "agente", "agent", "asignado a", "assigned to", "collector", "gestor asignado", "usuario", "assigned agent")),
]

PAYMENT_TARGETS = [
    Target("reference", gettext_lazy("Case reference"), True, ("referencia", "ref", "expediente", "reference", "concepto", "case reference")),
    Target("amount", gettext_lazy("Amount"), True, ("importe", "amount", "cantidad", "pago", "importe pago", "monto")),
    Target("received_on", gettext_lazy("Received on"), True, (
        "fecha", "fecha valor", "fecha pago", "date", "received on", "value date", "fecha operacion", "payment date")),
    Target("method", gettext_lazy("Method"), False, ("metodo", "medio", "method", "forma de pago", "medio pago", "payment method")),
    Target("payment_reference", gettext_lazy("Bank reference"), False, (
        "referencia banco", "referencia pago", "id operacion", "transaction id", "bank reference", "referencia bancaria")),
]

TARGETS = {"portfolio": PORTFOLIO_TARGETS, "payments": PAYMENT_TARGETS}

# Amount columns sampled to decide the file's decimal separator.
AMOUNT_FIELDS = {"portfolio": ("original_amount", "fees", "balance"), "payments": ("amount",)}

COUNTRY_ZONE = {"ES": "Europe/Madrid", "MX": "America/Mexico_City", "US": "America/New_York", "GB": "Europe/London",
                "PT": "Europe/Lisbon", "FR": "Europe/Paris", "AR": "America/Argentina/Buenos_Aires", "CO": "America/Bogota"}


def normalise_header(text) -> str:
    text = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


# Words that say nothing about a column ("Número de expediente" is "número expediente").
_FILLER = {"de", "del", "la", "el", "los", "las", "the", "of", "en", "y", "e", "o"}
# "Nº", "N.º", "Núm.", "No.", "Number": one word.
_NUMBER = {"n", "no", "nro", "nr", "num", "numero", "number", "nbr"}
# A column that holds the number, code or id OF something is an identifier, not that thing
# ("Nº cliente" is no debtor's name).
_ID_WORDS = {"num", "id", "codigo", "code", "cod", "ref", "referencia"}
_ID_TARGETS = {"reference", "document_number", "payment_reference"}
# Aliases too generic to name a column by being one of its words ("Tipo de interés" is no kind of debtor).
_GENERIC = {"id", "ref", "tel", "tipo", "due", "fecha", "date", "pago", "amount", "name", "mail"}


@lru_cache(maxsize=8192)  # the targets' aliases, looked up for every header
def _words(text: str) -> tuple[str, ...]:
    words = ["num" if w in _NUMBER else w for w in normalise_header(text).split()]
    meaningful = tuple(w for w in words if w not in _FILLER)
    return meaningful or tuple(words)


def suggest_mapping(kind: str, headers: list[str]) -> dict[str, str]:
    """A first guess at which column holds each target field, for the person to check.

    A header that IS one of a target's names ("Saldo pendiente", "E-mail", "Nº Expediente") wins
    over one that merely CONTAINS a name among other words ("Importe deuda" holds "importe"),
    and an earlier name of the target over a later one ("Nº expediente" over "Nº cliente");
    among the others, the header that is most nearly the name wins. Each column goes to one target."""
    header_words = [(h, _words(h)) for h in headers if str(h).strip()]
    candidates = []
    for t_index, target in enumerate(TARGETS[kind]):
        for h_index, (header, words) in enumerate(header_words):
            best = 0.0
            for rank, alias in enumerate((target.name.replace("_", " "), *target.aliases)):
                alias_words = _words(alias)
                if alias_words == words:
                    best = max(best, 2.0 - rank / 1000)  # the names come best first
                elif alias_words and " ".join(alias_words) not in _GENERIC and set(alias_words) <= set(words):
                    if target.name not in _ID_TARGETS and (set(words) - set(alias_words)) & _ID_WORDS:
                        continue
                    best = max(best, 1.0 + len(alias_words) / len(words))
            if best:
                candidates.append((-best, t_index, h_index, target.name, header))
    mapping: dict[str, str] = {}
    for _score, _t, _h, name, header in sorted(candidates):
        if name not in mapping and header not in mapping.values():
            mapping[name] = header
    return {t.name: mapping[t.name] for t in TARGETS[kind] if t.name in mapping}


# How far down a sheet the header row is looked for (below a title, a date, notes…).
HEADER_SEARCH_ROWS = 20


def find_header(kind: str, records: Iterable[tuple[int, list]]) -> tuple[list[str], Iterator[tuple[int, list]]]:
    """The header row's names and the (line, cells) records after it.

    Creditors' spreadsheets often open with a title, a date or notes above the column names.
    Among the first non-blank rows the header is the one that names the most fields (two at
    least, so that a data cell that happens to read like a name does not count), else the first
    row with two or more cells filled, else the first row."""
    iterator = iter(records)
    first: list[tuple[int, list]] = []
    for line, cells in iterator:
        if not is_blank(cells):
            first.append((line, cells))
            if len(first) >= HEADER_SEARCH_ROWS:
                break
    if not first:
        return [], iter(())
    names = [_names(cells) for _line, cells in first]
    most = limit("CRM_IMPORT_MAX_COLUMNS")
    for (line, _cells), row in zip(first, names, strict=True):
        if len(row) > most and (width := len(_trimmed(row))) > most:
            raise FileRefused(_("Line %(line)d of the file has %(n)d columns; the limit is %(limit)d.")
                              % {"line": line, "n": width, "limit": most})
    scores = [len(suggest_mapping(kind, row)) for row in names]
    if max(scores) >= 2:
        at = scores.index(max(scores))
    else:
        at = next((i for i, row in enumerate(names) if sum(1 for c in row if c) >= 2), 0)
    return _unique(names[at]), chain(first[at + 1:], iterator)


def _unique(headers: list[str]) -> list[str]:
    """Columns are mapped by name: a repeated name gets its rank ("Teléfono", "Teléfono (2)")."""
    seen: dict[str, int] = {}
    unique = []
    for header in headers:
        if header:
            seen[header] = seen.get(header, 0) + 1
            if seen[header] > 1:
                header = f"{header} ({seen[header]})"
        unique.append(header)
    return unique


def _trimmed(names: list[str]) -> list[str]:
    """Without the blank cells at the end (a sheet formatted far to the right has thousands)."""
    end = len(names)
    while end and not names[end - 1]:
        end -= 1
    return names[:end]


def _names(cells: list) -> list[str]:
    return [str(c).strip() if c is not None else "" for c in cells]


def best_sheet(kind: str, sheets: list):
    """The sheet of a workbook that holds the data: the one whose header (among its first rows)
    names the most fields; the first on a tie. A summary or cover sheet in front is skipped."""
    def score(sheet) -> int:
        rows = islice(sheet.iter_rows(values_only=True), HEADER_SEARCH_ROWS * 2)
        return max((len(suggest_mapping(kind, _names(row[:most]))) for row in rows if not is_blank(row)), default=0)

    most = limit("CRM_IMPORT_MAX_COLUMNS")

    scores = [score(sheet) for sheet in sheets]
    return sheets[scores.index(max(scores))]


def missing_required(kind: str, mapping: dict[str, str]) -> list[str]:
    """The labels of the required fields with no column ("Original amount or Balance" when
    neither amount column is there: either one is enough)."""
    labels = {t.name: t.label for t in TARGETS[kind]}
    missing = []
    for t in TARGETS[kind]:
        if t.required and not mapping.get(t.name) and not (t.or_else and mapping.get(t.or_else)):
            missing.append(_("%(a)s or %(b)s") % {"a": t.label, "b": labels[t.or_else]} if t.or_else else str(t.label))
    return missing


VALUE_MESSAGES = {
    "empty": gettext_lazy("This column is required."),
    "not_number": gettext_lazy("Not an amount."),
    "too_many_decimals": gettext_lazy("An amount has at most two decimals."),
    "too_large": gettext_lazy("The amount is too large."),
    "not_date": gettext_lazy("Not a date (use day/month/year or year-month-day)."),
    "not_phone": gettext_lazy("Not a valid phone number."),
}

# Warnings: the row is imported, the value is kept but cannot be used.
WARNING_MESSAGES = {
    "phone": gettext_lazy("Not a valid phone number: kept on the debtor as an unusable contact detail."),
    "email": gettext_lazy("Not a valid e-mail address: kept on the debtor as an unusable contact detail."),
    "address": gettext_lazy("The address is longer than 300 characters: kept cut short, as an unusable contact detail."),
    "kind": gettext_lazy("Not person or company: taken from the identity document instead."),
    "agent": gettext_lazy("No active agent has this user name, e-mail or name: the case is assigned as the import says."),
    "postal_code": gettext_lazy("A postal code has at most 12 characters: the debtor is imported without it."),
    "birth_date": gettext_lazy("Not a date of birth (a date, not in the future): the debtor is imported without it."),
}
# Why an unusable contact detail cannot be used, as the agent reads it on the debtor.
UNUSABLE_REASONS = {
    "phone": gettext_lazy("Not a valid phone number (as imported)"),
    "email": gettext_lazy("Not a valid e-mail address (as imported)"),
    "address": gettext_lazy("Address too long (cut short on import)"),
}
# The staged list of unusable contact details: records of (kind, value) joined by these.
UNIT, RECORD = "\x1f", "\x1e"


def unusable_text(items: list[tuple[str, str]]) -> str:
    return RECORD.join(f"{kind}{UNIT}{value}" for kind, value in items)


def unusable_items(text: str) -> list[tuple[str, str]]:
    return [tuple(item.split(UNIT, 1)) for item in text.split(RECORD) if item]  # type: ignore[misc]


@dataclass
class RowContext:
    kind: str
    columns: dict[str, int]  # target -> cell index
    headers: list[str]
    decimal_comma: bool
    day_first: bool
    currency: str
    today: dt.date
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    # Problems of a row that is imported all the same (meaningful when the row is returned).
    warnings: list[tuple[str, str, str]] | tuple = ()
    # The job's own creditor, and the creditors a creditor column may name (normalised code or
    # name -> (id, currency)); with create_creditors an unknown one is created (id 0 until then).
    creditor_id: int = 0
    creditors: dict[str, tuple[int, str]] = field(default_factory=dict)
    create_creditors: bool = False
    new_creditors: dict[str, str] = field(default_factory=dict)  # key -> the name as first written
    agents: dict[str, int] = field(default_factory=dict)  # normalised user name, e-mail or full name -> id

    def cell(self, cells: list, target: str):
        index = self.columns.get(target)
        if index is None or index >= len(cells):
            return ""
        value = cells[index]
        return value.strip() if isinstance(value, str) else value

    def _problem(self, target: str, value, message) -> tuple[str, str, str]:
        if target in self.columns:
            header = self.headers[self.columns[target]]
        else:  # no column chosen yet (the preview): the field's name as the person sees it
            header = next((t.label for t in TARGETS[self.kind] if t.name == target), target)
        return (str(header)[:100], str(value)[:200], str(message)[:300])

    def fail(self, target: str, value, message) -> None:
        self.errors.append(self._problem(target, value, message))

    def warn(self, target: str, value, message) -> None:
        self.warnings.append(self._problem(target, value, message))  # type: ignore[union-attr]

    def creditor(self, raw) -> tuple[int, str, str] | None:
        """(creditor id or 0 for one to create, its currency, the key of one to create) named by
        a creditor cell; the job's own creditor for a blank cell; None for an unknown one."""
        text = " ".join(str(raw).split()) if raw not in ("", None) else ""
        if not text:
            return self.creditor_id, self.currency, ""
        key = normalise_header(text)
        if key in self.creditors:
            return (*self.creditors[key], "")
        if self.create_creditors and key:
            self.new_creditors.setdefault(key, text[:200])
            return 0, self.currency, key[:200]
        return None


_DOC_PATTERNS = [("dni", re.compile(r"\d{8}[A-Z]")), ("nie", re.compile(r"[XYZ]\d{7}[A-Z]")),
                 ("cif", re.compile(r"[ABCDEFGHJKLMNPQRSUVW]\d{7}[0-9A-J]"))]
_DOC_TYPES = {"dni": "dni", "nif": None, "nie": "nie", "cif": "cif", "pasaporte": "passport", "passport": "passport",
              "ssn": "ssn", "ein": "ssn", "rfc": "rfc", "rif": "rif", "otro": "other", "other": "other"}
_KINDS = {"persona": "person", "person": "person", "fisica": "person", "f": "person", "particular": "person",
          "empresa": "company", "company": "company", "juridica": "company", "j": "company", "sociedad": "company"}
_METHODS = {"transferencia": "transfer", "transfer": "transfer", "tarjeta": "card", "card": "card",
            "domiciliacion": "direct_debit", "recibo": "direct_debit", "direct debit": "direct_debit",
            "efectivo": "cash", "cash": "cash", "cheque": "cheque", "check": "cheque"}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}")


def _guess_document_type(number: str) -> str:
    for code, pattern in _DOC_PATTERNS:
        if pattern.fullmatch(number):
            return code
    return "other"


def _amount(ctx: RowContext, cells, target: str, *, required: bool) -> Decimal | None:
    raw = ctx.cell(cells, target)
    if raw == "" or raw is None:
        if required:
            ctx.fail(target, raw, VALUE_MESSAGES["empty"])
        return None
    try:
        value = parse_amount(raw, decimal_comma=ctx.decimal_comma)
    except ValueProblem as problem:
        ctx.fail(target, raw, VALUE_MESSAGES[str(problem)])
        return None
    if value < 0:
        ctx.fail(target, raw, _("An amount cannot be negative."))
        return None
    return value


def _date(ctx: RowContext, cells, target: str, *, required: bool) -> dt.date | None:
    raw = ctx.cell(cells, target)
    if raw == "" or raw is None:
        if required:
            ctx.fail(target, raw, VALUE_MESSAGES["empty"])
        return None
    try:
        return parse_date(raw, day_first=ctx.day_first)
    except ValueProblem as problem:
        ctx.fail(target, raw, VALUE_MESSAGES[str(problem)])
        return None


def _text(ctx: RowContext, cells, target: str, *, required: bool = False, max_length: int = 200) -> str:
    raw = ctx.cell(cells, target)
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # a spreadsheet turned a numeric reference into a float
    text = " ".join(str(raw).split()) if raw else ""
    if required and not text:
        ctx.fail(target, raw, VALUE_MESSAGES["empty"])
    elif len(text) > max_length:
        ctx.fail(target, raw, _("At most %(n)d characters.") % {"n": max_length})
        return ""
    return text


def _choice(ctx: RowContext, cells, target: str) -> str:
    """A coded value ("Persona física", "DNI"…) normalised for lookup; "" when absent."""
    return normalise_header(_text(ctx, cells, target)) if target in ctx.columns else ""


def postal_code_value(raw, country: str) -> str:
    """A postal code as the debtor would type it: one line, upper case; a Spanish code that a
    spreadsheet read as a number gets its leading zero back (08001, not 8001)."""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = " ".join(str(raw).split()).upper() if raw not in ("", None) else ""
    if country == "ES" and text.isdigit() and len(text) == 4:
        text = "0" + text
    return text


def birth_date_value(raw, *, day_first: bool, today: dt.date) -> dt.date:
    """A date of birth in the file's date format; a two-digit year is in the past century when
    it would otherwise be in the future (05/03/65 is 1965). ValueProblem when it is no date of birth."""
    day = parse_date(raw, day_first=day_first)
    if day > today and isinstance(raw, str) and len(re.split(r"\D+", raw.strip())[-1]) == 2:
        try:
            day = day.replace(year=day.year - 100)
        except ValueError:  # 29 February
            day = day.replace(year=day.year - 100, day=28)
    if day > today or day.year < 1900:
        raise ValueProblem("not_date")
    return day


def _identity_answers(ctx: RowContext, cells, country: str) -> tuple[str, dt.date | None]:
    """The portal's identity answers of a line; a value that cannot be one is left out with a
    warning (it never costs the debt)."""
    postal_code = postal_code_value(ctx.cell(cells, "postal_code"), country) if "postal_code" in ctx.columns else ""
    if len(postal_code) > 12:
        ctx.warn("postal_code", postal_code, WARNING_MESSAGES["postal_code"])
        postal_code = ""
    birth_date = None
    raw = ctx.cell(cells, "birth_date")
    if raw not in ("", None):
        try:
            birth_date = birth_date_value(raw, day_first=ctx.day_first, today=ctx.today)
        except ValueProblem:
            ctx.warn("birth_date", raw, WARNING_MESSAGES["birth_date"])
    return postal_code, birth_date


def _join_phones(cells: list[str]) -> str:
    """The numbers of the phone columns as one staging value: E.164 numbers joined by spaces,
    each once (loader.py makes one contact point of each)."""
    return " ".join(dict.fromkeys(" ".join(cells).split()))


def portfolio_row(ctx: RowContext, cells: list) -> tuple | None:
    """A clean staging tuple (with ``ctx.warnings`` about values kept as unusable), or None with
    ``ctx.errors`` filled."""
    ctx.errors = []
    ctx.warnings = []
    reference = _text(ctx, cells, "reference", required=True, max_length=64)
    name = _text(ctx, cells, "name", required=True)
    number = normalise_document(_text(ctx, cells, "document_number", required=True, max_length=40))
    doc_type_raw = _choice(ctx, cells, "document_type")
    doc_type = _DOC_TYPES.get(doc_type_raw) if doc_type_raw else None
    if doc_type_raw and doc_type_raw not in _DOC_TYPES:
        ctx.fail("document_type", doc_type_raw, _("Unknown document type."))
    if len(number) < 9 and doc_type in (None, "dni"):
        number = restore_dni_zeros(number)
    doc_type = doc_type or _guess_document_type(number)
    if number:
        try:
            validate_document(doc_type, number)
        except ValidationError as exc:
            ctx.fail("document_number", number, exc.message_dict["document_number"][0])
    kind_raw = _choice(ctx, cells, "kind")
    guessed_kind = "company" if doc_type == "cif" else "person"
    kind = _KINDS.get(kind_raw, "") if kind_raw else guessed_kind
    if not kind:
        ctx.warn("kind", kind_raw, WARNING_MESSAGES["kind"])
        kind = guessed_kind
    country = (_text(ctx, cells, "country") or "ES").upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        ctx.fail("country", country, _("Use a two-letter country code (ES, MX, US…)."))
    # A contact detail that cannot be read never costs the debt: it is kept, as unusable.
    unusable: list[tuple[str, str]] = []
    phones = []
    for target in ("phone", "phone_other"):
        raw_phone = ctx.cell(cells, target)
        if raw_phone not in ("", None):
            good, bad = split_phones(raw_phone, country=country)
            phones.append(" ".join(good))
            for value in bad:
                ctx.warn(target, value, WARNING_MESSAGES["phone"])
                unusable.append(("phone", value[:300]))
    phone = _join_phones(phones)
    email = " ".join(str(ctx.cell(cells, "email") or "").split()).lower()
    if email and (len(email) > 254 or not _EMAIL.fullmatch(email)):
        ctx.warn("email", email, WARNING_MESSAGES["email"])
        unusable.append(("email", email[:300]))
        email = ""
    address = " ".join(str(ctx.cell(cells, "address") or "").split())
    if len(address) > 300:
        ctx.warn("address", address, WARNING_MESSAGES["address"])
        unusable.append(("address", address[:300]))
        address = ""
    creditor_id, creditor_currency, creditor_new = ctx.creditor_id, ctx.currency, ""
    if "creditor" in ctx.columns:
        found = ctx.creditor(ctx.cell(cells, "creditor"))
        if found is None:
            ctx.fail("creditor", ctx.cell(cells, "creditor"), _(
                "No creditor has this code or name. Add it in the admin area, or tick “Create missing creditors”."))
        else:
            creditor_id, creditor_currency, creditor_new = found
    agent_id = 0
    raw_agent = ctx.cell(cells, "agent")
    if raw_agent not in ("", None) and (agent_key := normalise_header(" ".join(str(raw_agent).split()))):
        agent_id = ctx.agents.get(agent_key, 0)
        if not agent_id:
            ctx.warn("agent", ctx.cell(cells, "agent"), WARNING_MESSAGES["agent"])
    fees = _amount(ctx, cells, "fees", required=False) or Decimal("0.00")
    if "original_amount" in ctx.columns or "balance" not in ctx.columns:
        amount_target = "original_amount"
        original = _amount(ctx, cells, "original_amount", required=True)
        balance = _amount(ctx, cells, "balance", required=False)
    else:  # one amount column, the balance: it is the original amount too
        amount_target = "balance"
        original = balance = _amount(ctx, cells, "balance", required=True)
    if original is not None and original == 0:
        ctx.fail(amount_target, ctx.cell(cells, amount_target), _("The amount must be greater than zero."))
    if original is not None and balance is not None and balance > original + fees:
        ctx.fail("balance", ctx.cell(cells, "balance"), _("The balance is larger than the amount plus fees."))
    currency = (_text(ctx, cells, "currency") or creditor_currency).upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        ctx.fail("currency", currency, _("Use a three-letter currency code (EUR, USD…)."))
    due_date = _date(ctx, cells, "due_date", required=True)
    placed_at = _date(ctx, cells, "placed_at", required=False) or ctx.today
    postal_code, birth_date = _identity_answers(ctx, cells, country)
    if ctx.errors:
        return None
    zone = COUNTRY_ZONE.get(country, "Europe/Madrid")
    language = "en" if country in ("US", "GB") else "es"
    return (doc_type, number, name, kind, country, zone, language, phone, email, reference,
            original, fees, original + fees if balance is None else balance, currency, due_date, placed_at,
            address, unusable_text(unusable), creditor_id, creditor_new, agent_id, postal_code, birth_date)


_DNI_SHAPE = re.compile(r"[0-9]{8}[A-Z]")  # ASCII digits only, as validate_document's final shape check
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_DOC_NOISE = re.compile(r"[\s\-.]")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_ZERO = Decimal("0.00")
_TOO_LARGE = Decimal("1e12")


class _Slow(Exception):
    """Not the common shape: let portfolio_row decide (and word the errors)."""


def compile_portfolio_row(ctx: RowContext):
    """``portfolio_row`` specialised for one file's mapping, for rows of text cells (CSV).

    The fast path only ACCEPTS rows: anything unusual (a missing cell, an empty required value,
    an amount or date in an uncommon form, any failed check, any exception) hands the row to
    ``portfolio_row`` itself, which then gives the result and the error messages. So a row it
    returns is exactly what ``portfolio_row`` returns (tests compare both on messy files and on
    random rows); it is about three times faster on the usual row because the column lookups,
    regular expressions and parsers are bound once per file and the validators run inline.
    ``ctx.errors`` is meaningful only when the function returns None."""
    cols = ctx.columns
    names = ("reference", "name", "document_number", "document_type", "kind", "country", "phone", "phone_other", "email",
             "original_amount", "fees", "balance", "currency", "due_date", "placed_at", "address", "creditor", "agent",
             "postal_code", "birth_date")
    (i_ref, i_name, i_doc, i_type, i_kind, i_country, i_phone, i_phone_other, i_email, i_orig, i_fees, i_bal, i_cur, i_due,
     i_placed, i_address, i_creditor, i_agent, i_postal, i_birth) = (cols.get(n) for n in names)
    if None in (i_ref, i_name, i_doc, i_due) or (i_orig is None and i_bal is None):
        return lambda cells: portfolio_row(ctx, cells)  # a required column is not mapped: every row fails anyway
    creditors, agents, own_creditor = ctx.creditors, ctx.agents, (ctx.creditor_id, ctx.currency)
    width = max(cols.values()) + 1
    decimal_comma, day_first, today = ctx.decimal_comma, ctx.day_first, ctx.today
    amount_shape = _EU_AMOUNT.fullmatch if decimal_comma else _US_AMOUNT.fullmatch
    dni_shape, doc_noise, country_ok, currency_ok, email_ok = (
        _DNI_SHAPE.fullmatch, _DOC_NOISE.sub, _COUNTRY.fullmatch, _CURRENCY.fullmatch, _EMAIL.fullmatch)
    codes: dict[str, str] = {}

    def code(raw: str) -> str:
        text = " ".join(raw.split())
        if len(text) > 200:
            raise _Slow
        value = codes.get(text)
        if value is None:
            value = normalise_header(text)
            if len(codes) < 1000:
                codes[text] = value
        return value

    def amount(raw: str) -> Decimal:
        if amount_shape(raw):
            value = Decimal(raw.replace(".", "").replace(",", ".") if decimal_comma else raw.replace(",", "")).quantize(CENT)
        else:
            value = parse_amount(raw, decimal_comma=decimal_comma)
        if value < 0 or value >= _TOO_LARGE:
            raise _Slow
        return value

    def row(cells: list) -> tuple | None:
        if len(cells) < width:
            return portfolio_row(ctx, cells)
        try:
            reference = " ".join(cells[i_ref].split())
            name = " ".join(cells[i_name].split())
            document = " ".join(cells[i_doc].split())
            if not reference or len(reference) > 64 or not name or len(name) > 200 or not document or len(document) > 40:
                raise _Slow
            number = doc_noise("", document).upper()
            if not number:
                raise _Slow
            doc_type = None
            if i_type is not None and (type_code := code(cells[i_type])):
                if type_code not in _DOC_TYPES:
                    raise _Slow
                doc_type = _DOC_TYPES[type_code]
            if len(number) < 9 and doc_type in (None, "dni"):
                number = restore_dni_zeros(number)
            doc_type = doc_type or _guess_document_type(number)
            if doc_type == "dni":
                if not (dni_shape(number) and _DNI_LETTERS[int(number[:8]) % 23] == number[8]):
                    raise _Slow
            else:
                validate_document(doc_type, number)
            if i_kind is not None and (kind_code := code(cells[i_kind])):
                kind = _KINDS[kind_code]
            else:
                kind = "company" if doc_type == "cif" else "person"
            country = "ES"
            if i_country is not None:
                text = " ".join(cells[i_country].split())
                if len(text) > 200:
                    raise _Slow
                country = (text or "ES").upper()
                if not country_ok(country):
                    raise _Slow
            phones = []
            if i_phone is not None and (raw := cells[i_phone].strip()):
                phones.append(parse_phones(raw, country=country))
            if i_phone_other is not None and (raw := cells[i_phone_other].strip()):
                phones.append(parse_phones(raw, country=country))
            phone = _join_phones(phones)
            email = ""
            if i_email is not None:
                text = " ".join(cells[i_email].split())
                if len(text) > 254:
                    raise _Slow
                email = text.lower()
                if email and not email_ok(email):
                    raise _Slow
            address = ""
            if i_address is not None:
                address = " ".join(cells[i_address].split())
                if len(address) > 300:
                    raise _Slow
            creditor_id, creditor_currency = own_creditor
            if i_creditor is not None and (raw := cells[i_creditor].strip()):
                creditor_id, creditor_currency = creditors[code(raw)]  # (unknown: KeyError, the slow path)
            agent_id = 0
            if i_agent is not None and (raw := cells[i_agent].strip()):
                agent_id = agents[code(raw)]
            fees = _ZERO
            if i_fees is not None and (raw := cells[i_fees].strip()):
                fees = amount(raw) or _ZERO
            if i_orig is not None:
                raw = cells[i_orig].strip()
                if not raw:
                    raise _Slow
                original = amount(raw)
                balance = original + fees
                if i_bal is not None and (raw := cells[i_bal].strip()):
                    balance = amount(raw)
                    if balance > original + fees:
                        raise _Slow
            else:
                raw = cells[i_bal].strip()
                if not raw:
                    raise _Slow
                original = balance = amount(raw)
            if original == 0:
                raise _Slow
            currency = creditor_currency.upper()
            if i_cur is not None:
                text = " ".join(cells[i_cur].split())
                if len(text) > 200:
                    raise _Slow
                currency = (text or creditor_currency).upper()
            if not currency_ok(currency):
                raise _Slow
            raw = cells[i_due].strip()
            if not raw:
                raise _Slow
            due_date = _parse_date_text(raw, day_first)
            placed_at = today
            if i_placed is not None and (raw := cells[i_placed].strip()):
                placed_at = _parse_date_text(raw, day_first)
            postal_code = ""
            if i_postal is not None:
                postal_code = postal_code_value(cells[i_postal], country)
                if len(postal_code) > 12:
                    raise _Slow
            birth_date = None
            if i_birth is not None and (raw := cells[i_birth].strip()):
                birth_date = birth_date_value(raw, day_first=day_first, today=today)
        except Exception:  # noqa: BLE001 - any doubt at all: the reference implementation decides
            return portfolio_row(ctx, cells)
        ctx.warnings = ()
        return (doc_type, number, name, kind, country, COUNTRY_ZONE.get(country, "Europe/Madrid"),
                "en" if country in ("US", "GB") else "es", phone, email, reference, original, fees, balance, currency,
                due_date, placed_at, address, "", creditor_id, "", agent_id, postal_code, birth_date)

    return row


PORTFOLIO_STAGE_COLUMNS = [
    ("document_type", "varchar(10)"), ("document_number", "varchar(32)"), ("name", "varchar(200)"),
    ("kind", "varchar(10)"), ("country", "varchar(2)"), ("timezone", "varchar(64)"), ("language", "varchar(8)"),
    ("phone", "text"), ("email", "varchar(300)"), ("reference", "varchar(64)"),
    ("original_amount", "numeric(14,2)"), ("fees", "numeric(14,2)"), ("balance", "numeric(14,2)"),
    ("currency", "varchar(3)"), ("due_date", "date"), ("placed_at", "date"),
    ("address", "varchar(300)"), ("unusable", "text"), ("creditor_id", "integer"), ("creditor_new", "varchar(200)"),
    ("agent_id", "integer"), ("postal_code", "varchar(12)"), ("birth_date", "date"),
]


def payment_row(ctx: RowContext, cells: list) -> tuple | None:
    ctx.errors = []
    # The reference, or a bank's concept that names it among other words (matched in loader.py).
    reference = _text(ctx, cells, "reference", required=True, max_length=300)
    amount = _amount(ctx, cells, "amount", required=True)
    if amount is not None and amount == 0:
        ctx.fail("amount", ctx.cell(cells, "amount"), _("The amount must be greater than zero."))
    received_on = _date(ctx, cells, "received_on", required=True)
    if received_on and received_on > ctx.today:
        ctx.fail("received_on", ctx.cell(cells, "received_on"), _("A payment cannot be received in the future."))
    method_raw = _choice(ctx, cells, "method")
    method = _METHODS.get(method_raw, method_raw) if method_raw else PaymentMethod.TRANSFER
    if method not in PaymentMethod.values:
        ctx.fail("method", method_raw, _("Unknown payment method."))
    payment_reference = _text(ctx, cells, "payment_reference", max_length=100)
    if ctx.errors:
        return None
    return (reference, amount, received_on, method, payment_reference)
