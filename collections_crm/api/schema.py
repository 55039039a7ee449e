"""OpenAPI generation: the token scheme, and every answer an operation can give documented.

The views declare their success answers; the error answers (400 field errors, 401/403, 404,
409 idempotency conflicts, 412/428 for If-Match, 429 throttling) are added here from what
the operation is, so the schema says what the API really answers (the fuzz test checks every
response against it)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "collections_crm.api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Per-client API token (crm_…), scoped to one creditor."}


# DRF's error bodies: {"detail": "…"} or field errors ({"field": ["…"], "non_field_errors": ["…"]},
# nested for nested inputs).
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {},
    "description": "`detail`, or the field errors: each field's name with its messages.",
}

ERROR_DESCRIPTIONS = {
    "400": "Invalid input: field errors (a filter, a body field, a header)",
    "401": "No valid credentials",
    "403": "Not allowed for this token or user",
    "404": "Not found or not yours (or a page beyond the last)",
    "409": "This Idempotency-Key was already used by this client on another endpoint",
    "412": "Stale version: the If-Match ETag is not the current one",
    "422": "This Idempotency-Key was already used on this endpoint with another body",
    "428": "The If-Match header is missing",
    "429": "Too many requests",
}


class CrmAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        headers = {p.name for p in self.get_override_parameters() if hasattr(p, "name")}
        codes = ["401", "403", "404", "429"]
        if self.method != "GET" or self._is_list_view():
            codes.append("400")
        if "Idempotency-Key" in headers:
            codes += ["409", "422"]
        if "If-Match" in headers:
            codes += ["412", "428"]
        if "Idempotency-Key" in headers and "201" in responses and "200" not in responses:
            # IdempotentCreateMixin (and payments) answer a retry with the first call's record.
            responses["200"] = {**responses["201"], "description": "Replay of an earlier call with the same Idempotency-Key"}
        for code in sorted(codes):
            if code not in responses or "content" not in responses[code]:
                response = self._get_response_for_code(ERROR_SCHEMA, code, direction=direction)
                response["description"] = responses.get(code, {}).get("description") or ERROR_DESCRIPTIONS[code]
                responses[code] = response
        return dict(sorted(responses.items()))
