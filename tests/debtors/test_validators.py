"""Identity documents (debtors.validators): DNI, NIE and CIF check letters."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "doc_type,number,ok",
    [("dni", "12345678Z", True), ("dni", "12345678A", False), ("nie", "X1234567L", True), ("nie", "X1234567A", False),
     ("cif", "B12345674", True), ("cif", "B12345675", False), ("passport", "AB123456", True), ("other", "!", False)],
)
def test_document_validation(doc_type, number, ok):
    from django.core.exceptions import ValidationError

    from debtors.validators import validate_document

    if ok:
        validate_document(doc_type, number)
    else:
        with pytest.raises(ValidationError):
            validate_document(doc_type, number)
