"""Identity documents and contact values: normalisation and validation."""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def normalise_document(value: str) -> str:
    return re.sub(r"[\s\-.]", "", value or "").upper()


def _dni_ok(number: str) -> bool:
    return bool(re.fullmatch(r"\d{8}[A-Z]", number)) and _DNI_LETTERS[int(number[:8]) % 23] == number[8]


def restore_dni_zeros(number: str) -> str:
    """A DNI whose leading zeros a spreadsheet dropped ("1234567L" for "01234567L"), padded back
    when its check letter then matches; any other number as it is."""
    if re.fullmatch(r"[0-9]{1,7}[A-Z]", number):
        padded = number.zfill(9)
        if _dni_ok(padded):
            return padded
    return number


def _nie_ok(number: str) -> bool:
    if not re.fullmatch(r"[XYZ]\d{7}[A-Z]", number):
        return False
    return _dni_ok(str("XYZ".index(number[0])) + number[1:])


def _cif_ok(number: str) -> bool:
    if not re.fullmatch(r"[ABCDEFGHJKLMNPQRSUVW]\d{7}[0-9A-J]", number):
        return False
    digits = number[1:8]
    even = sum(int(d) for d in digits[1::2])
    odd = sum(sum(divmod(int(d) * 2, 10)) for d in digits[0::2])
    control = (10 - (even + odd) % 10) % 10
    return number[8] in (str(control), "JABCDEFGHI"[control])


def validate_document(document_type: str, number: str) -> None:
    """Spanish documents carry check letters; others are only checked for shape."""
    number = normalise_document(number)
    checks = {"dni": _dni_ok, "nie": _nie_ok, "cif": _cif_ok}
    if document_type in checks and not checks[document_type](number):
        raise ValidationError({"document_number": _("This is not a valid %(type)s number.") % {"type": document_type.upper()}})
    if not re.fullmatch(r"[A-Z0-9]{3,32}", number):
        raise ValidationError({"document_number": _("Use 3 to 32 letters and digits.")})


def normalise_phone(value: str, country: str = "ES") -> str:
    try:
        parsed = phonenumbers.parse(value, country or "ES")
    except phonenumbers.NumberParseException as exc:
        raise ValidationError({"value": _("This is not a phone number.")}) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError({"value": _("This is not a valid phone number.")})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_contact_value(kind: str, value: str, *, country: str = "ES") -> str:
    value = (value or "").strip()
    if kind == "phone":
        return normalise_phone(value, country)
    if kind == "email":
        value = value.lower()
        try:
            validate_email(value)
        except ValidationError as exc:
            raise ValidationError({"value": _("Enter a valid e-mail address.")}) from exc
        return value
    if not value:
        raise ValidationError({"value": _("This field is required.")})
    return value


def dni_for(number: int) -> str:
    """A valid DNI for an 8-digit number (demo data and tests)."""
    return f"{number:08d}{_DNI_LETTERS[number % 23]}"


def cif_for(letter: str, number: int) -> str:
    digits = f"{number:07d}"
    even = sum(int(d) for d in digits[1::2])
    odd = sum(sum(divmod(int(d) * 2, 10)) for d in digits[0::2])
    control = (10 - (even + odd) % 10) % 10
    return f"{letter}{digits}{control}"
