"""Domain errors become HTTP answers with field messages, in the request's language."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class PreconditionRequired(APIException):
    status_code = 428
    default_detail = _("Send the If-Match header with the ETag of the version you read.")
    default_code = "precondition_required"


class IdempotencyConflict(APIException):
    """The client's key was used on another endpoint (or, for a payment, another case)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = _("This Idempotency-Key was already used for a different request.")
    default_code = "idempotency_conflict"


class IdempotencyMismatch(APIException):
    """The client's key was used on this endpoint with another request body."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = _("This Idempotency-Key was already used with a different request body.")
    default_code = "idempotency_mismatch"


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        # StaleVersionError and its kind carry the code "stale": the client read an old version.
        stale = getattr(exc, "code", None) == "stale"
        data = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(data, status=status.HTTP_412_PRECONDITION_FAILED if stale else status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
