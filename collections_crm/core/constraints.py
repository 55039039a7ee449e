"""Database constraints as people read them when a form breaks one: a human message
(``violation_error_message``) on the field the constraint is about, never its raw name."""

from __future__ import annotations

from typing import ClassVar

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


class ConstraintFieldsMixin:
    """For a model: ``constraint_fields`` maps a constraint's ``violation_error_code`` to the
    field its message belongs to. Django reports a violated CheckConstraint (and a conditional
    UniqueConstraint) as a non-field error; this puts it beside that field instead, in model
    validation (ModelForm, full_clean) and so on every form of the model. Constraints are only
    checked when all their fields are in the form, so the field is always on it."""

    constraint_fields: ClassVar[dict[str, str]] = {}

    def validate_constraints(self, exclude=None):
        try:
            super().validate_constraints(exclude=exclude)  # type: ignore[misc]
        except ValidationError as exc:
            errors: dict[str, list[ValidationError]] = {}
            for field, field_errors in exc.error_dict.items():
                for error in field_errors:
                    target = self.constraint_fields.get(error.code or "", field) if field == NON_FIELD_ERRORS else field
                    errors.setdefault(target, []).append(error)
            raise ValidationError(errors) from None
