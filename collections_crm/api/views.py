"""REST API v1. Each view validates with an input serializer, finds the record through the
selectors (404 for anything the caller may not see) and calls the same service as the pages.

Each kind of record is one viewset (list and detail, plus create or partial update where the
API writes them), registered on the router in urls.py; the operations on one record (a case's
status, a plan's agreement, an import's start, ...) are views of their own."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.settings import api_settings

from cases import services as case_services
from collections_crm.accounts.access import ALL_ROLES, STAFF_ROLES
from collections_crm.accounts.models import Role
from collections_crm.imports import selectors as import_selectors
from collections_crm.imports import services as import_services
from contacts.services import contact_attempt_log
from debtors import services as debtor_services

from . import filters, selectors
from . import serializers as s
from . import services as api_services
from .authentication import ApiTokenAuthentication
from .exceptions import IdempotencyConflict, PreconditionRequired, api_exception_handler
from .models import ApiToken
from .permissions import CrmApiPermission
from .schema import CrmAutoSchema
from .throttles import SessionUserRateThrottle, TokenRateThrottle

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Send the same key again to get the first result instead of a second record (at most 100 characters).",
)
IF_MATCH_HEADER = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
    description="The ETag of the version you read; a stale write is refused with 412.",
)


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        # DRF falls back to the default on a page_size that is not a positive number; say so instead.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and int(raw) > 0):
            raise ValidationError({self.page_size_query_param: [_("A whole number of at least 1.")]})
        return super().get_page_size(request)


class ApiMixin:
    """Token or session authentication (session keeps CSRF), throttles, deny by default."""

    schema = CrmAutoSchema()
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [CrmApiPermission]
    throttle_classes = [TokenRateThrottle, SessionUserRateThrottle]
    pagination_class = Pagination
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    read_roles = ALL_ROLES
    write_roles = ALL_ROLES

    @classmethod
    def as_view(cls, *args, **initkwargs):
        # DRF authenticates on its own; the login middleware would send tokens to the login page.
        # (A viewset's as_view also takes the router's method-to-action map.)
        return login_not_required(super().as_view(*args, **initkwargs))

    def get_exception_handler(self):
        return api_exception_handler

    def input(self, serializer_class, *, partial: bool = False) -> dict:
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context(), partial=partial)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def get_serializer_context(self):
        # The input serializers look records up among the caller's (serializers._ScopedPk).
        return {**super().get_serializer_context(), "caller": self.caller()}

    def caller(self) -> dict:
        """Who asks, as the selectors take it: the user, and the token's creditor (None for a session)."""
        auth = self.request.auth
        return {"user": self.request.user, "creditor_id": auth.creditor_id if isinstance(auth, ApiToken) else None}

    def reload(self, instance):
        """The record again through this view's selector (its prefetches), after a service changed it."""
        return self.get_queryset().get(pk=instance.pk)

    def output(self, instance, *, status_code: int = status.HTTP_200_OK, headers=None) -> Response:
        return Response(self.get_serializer(instance).data, status=status_code, headers=headers)


@csrf_exempt
@login_not_required
def not_found(request, *args, **kwargs):
    return JsonResponse({"detail": str(_("Not found."))}, status=status.HTTP_404_NOT_FOUND)


def idempotency_scope(request) -> str:
    return f"t{request.auth.pk}" if isinstance(request.auth, ApiToken) else f"u{request.user.pk}"


def idempotency_key(request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not re.fullmatch(r"[\x21-\x7e]{1,100}", key):
        raise ValidationError({"Idempotency-Key": [_("Use 1 to 100 visible ASCII characters.")]})
    return key


def request_fingerprint(request) -> str:
    """SHA-256 of the request's body as parsed (key order and JSON spacing do not count)."""
    data = request.data
    if hasattr(data, "lists"):
        data = dict(data.lists())
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


# POST with an Idempotency-Key creates once: the key is claimed (api.services) in the same
# transaction as the record, so a failed call rolls its key back and can be retried. The view
# puts what creates the record in ``create_record``. (Comments, not a docstring: drf-spectacular
# would show a mixin's docstring as the operations' description.)
class IdempotentCreateMixin:
    def create(self, request, *args, **kwargs):
        key = idempotency_key(request)
        if key is None:
            return self.create_record(request)
        with transaction.atomic():
            claim = api_services.idempotency_claim(
                scope=idempotency_scope(request), key=key, path=request.path, request_hash=request_fingerprint(request),
                payments_path=reverse("api:payment-list"),
            )
            if isinstance(claim, api_services.IdempotentReplay):
                return Response(claim.body, status=claim.status_code)
            response = self.create_record(request)
            api_services.idempotency_record_answer(record=claim, status_code=response.status_code, body=response.data)
        return response


def _etag_version(request) -> str:
    raw = request.headers.get("If-Match")
    if not raw:
        raise PreconditionRequired()
    return raw.strip().removeprefix("W/").strip('"')


def case_etag(case) -> str:
    return f'"{case.version}"'


def debtor_etag(debtor) -> str:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return f'"{(debtor.updated_at - epoch) // dt.timedelta(microseconds=1)}"'


def _expected_case_version(request) -> int:
    value = _etag_version(request)
    if not value.isdigit():
        raise ValidationError({"If-Match": [_("Not an ETag of this API.")]})
    return int(value)


def _expected_debtor_stamp(request) -> dt.datetime:
    value = _etag_version(request)
    if not value.isdigit() or len(value) > 20:
        raise ValidationError({"If-Match": [_("Not an ETag of this API.")]})
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(value))


# --- Viewsets: list and detail of each kind of record ----------------------------------------


# No docstrings on the viewsets (comments instead): drf-spectacular documents each operation
# with the first docstring it finds, and the schema keeps the descriptions it had.
class ApiViewSet(ApiMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    # /<records>/<int:pk>/ as before: an id that is not a number is the catch-all JSON 404,
    # answered before authentication.
    lookup_value_converter = "int"
    # What OPTIONS and the browsable API say of the list (of a record: nothing).
    list_description = ""

    def filter_queryset(self, queryset):
        # The filters and the ordering are the list's: a record's URL ignores them, so a stray
        # ?status=... neither hides the record nor is refused.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def get_view_name(self) -> str:
        # "Case List" and "Case Detail" (DRF would say "Case Instance"), as the views were named.
        name = super().get_view_name()
        return name.removesuffix(" Instance") + " Detail" if self.detail else name

    def get_view_description(self, html: bool = False) -> str:
        if self.description is None:
            self.description = "" if self.detail else self.list_description
        return super().get_view_description(html)


# --- Creditors ------------------------------------------------------------------------------


class CreditorViewSet(ApiViewSet):
    serializer_class = s.CreditorSerializer
    filterset_class = filters.CreditorFilter
    ordering_fields = ["name", "code", "id"]

    def get_queryset(self):
        return selectors.creditors_for(creditor_id=self.caller()["creditor_id"])


# --- Debtors --------------------------------------------------------------------------------


@extend_schema_view(
    partial_update=extend_schema(request=s.DebtorUpdateIn, parameters=[IF_MATCH_HEADER], responses={200: s.DebtorSerializer}),
)
class DebtorViewSet(ApiViewSet):
    serializer_class = s.DebtorSerializer
    filterset_class = filters.DebtorFilter
    ordering_fields = ["name", "id", "created_at"]

    def get_queryset(self):
        return selectors.debtors_for(**self.caller(), for_write=self.action == "partial_update")

    def retrieve(self, request, *args, **kwargs):
        debtor = self.get_object()
        return self.output(debtor, headers={"ETag": debtor_etag(debtor)})

    def partial_update(self, request, *args, **kwargs):
        debtor = self.get_object()
        changes = self.input(s.DebtorUpdateIn, partial=True)
        debtor = debtor_services.debtor_update(
            actor=request.user, debtor_id=debtor.pk, changes=changes, expected_updated_at=_expected_debtor_stamp(request)
        )
        debtor = self.reload(debtor)
        return self.output(debtor, headers={"ETag": debtor_etag(debtor)})


@extend_schema(request=s.ContactPointIn, parameters=[IDEMPOTENCY_HEADER], responses={201: s.ContactPointSerializer})
class DebtorContactPointCreate(ApiMixin, IdempotentCreateMixin, generics.GenericAPIView):
    serializer_class = s.ContactPointSerializer

    def get_queryset(self):
        return selectors.debtors_for(**self.caller(), for_write=True)

    def post(self, request, *args, **kwargs):
        return self.create(request, *args, **kwargs)

    def create_record(self, request):
        debtor = self.get_object()
        point = debtor_services.contact_point_add(actor=request.user, debtor=debtor, **self.input(s.ContactPointIn))
        return self.output(point, status_code=status.HTTP_201_CREATED)


# --- Cases ----------------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(request=s.CaseCreateIn, parameters=[IDEMPOTENCY_HEADER], responses={201: s.CaseSerializer}),
    partial_update=extend_schema(request=s.CaseUpdateIn, parameters=[IF_MATCH_HEADER], responses={200: s.CaseSerializer, 412: OpenApiResponse(description="Stale version")}),
)
class CaseViewSet(IdempotentCreateMixin, ApiViewSet):
    serializer_class = s.CaseSerializer
    filterset_class = filters.CaseFilter
    ordering_fields = ["id", "reference", "balance", "due_date", "next_action_at", "created_at"]

    @property
    def write_roles(self):
        # Opening a case is for staff; updating one, for anyone who may act on it.
        return ALL_ROLES if self.detail else STAFF_ROLES

    def get_queryset(self):
        return selectors.cases_for(**self.caller(), for_write=self.action == "partial_update")

    def create_record(self, request):
        data = dict(self.input(s.CaseCreateIn))
        debtor = data.pop("debtor", None)
        person = data.pop("debtor_id", None)
        if debtor is not None:
            case = case_services.case_create_with_debtor(actor=request.user, debtor=debtor, **data)
        else:
            case = case_services.case_create(actor=request.user, debtor=person, **data)
        return self.output(case, status_code=status.HTTP_201_CREATED, headers={"ETag": case_etag(case)})

    def retrieve(self, request, *args, **kwargs):
        case = self.get_object()
        return self.output(case, headers={"ETag": case_etag(case)})

    def partial_update(self, request, *args, **kwargs):
        case = self.get_object()
        changes = self.input(s.CaseUpdateIn, partial=True)
        case = case_services.case_update(
            actor=request.user, case_id=case.pk, expected_version=_expected_case_version(request), changes=dict(changes)
        )
        return self.output(case, headers={"ETag": case_etag(case)})


@extend_schema(request=s.CaseStatusIn, parameters=[IF_MATCH_HEADER], responses={200: s.CaseSerializer, 412: OpenApiResponse(description="Stale version")})
class CaseStatusChange(ApiMixin, generics.GenericAPIView):
    serializer_class = s.CaseSerializer

    def get_queryset(self):
        return selectors.cases_for(**self.caller(), for_write=True)

    def post(self, request, *args, **kwargs):
        case = self.get_object()
        new_status = self.input(s.CaseStatusIn)["status"]
        case = case_services.case_set_status(
            actor=request.user, case_id=case.pk, status=new_status, expected_version=_expected_case_version(request)
        )
        return self.output(case, headers={"ETag": case_etag(case)})


# --- Contact attempts, promises, plans, payments --------------------------------------------


@extend_schema_view(
    create=extend_schema(request=s.ContactAttemptIn, parameters=[IDEMPOTENCY_HEADER], responses={201: s.ContactAttemptSerializer}),
)
class ContactAttemptViewSet(IdempotentCreateMixin, ApiViewSet):
    serializer_class = s.ContactAttemptSerializer
    filterset_class = filters.ContactAttemptFilter
    ordering_fields = ["occurred_at", "id"]

    def get_queryset(self):
        return selectors.attempts_for(**self.caller())

    def create_record(self, request):
        data = dict(self.input(s.ContactAttemptIn))
        case = data.pop("case")
        attempt = contact_attempt_log(actor=request.user, case_id=case.pk, **data)
        return self.output(attempt, status_code=status.HTTP_201_CREATED)


@extend_schema_view(
    create=extend_schema(request=s.PromiseIn, parameters=[IDEMPOTENCY_HEADER], responses={201: s.PromiseSerializer}),
)
class PromiseViewSet(IdempotentCreateMixin, ApiViewSet):
    serializer_class = s.PromiseSerializer
    filterset_class = filters.PromiseFilter
    ordering_fields = ["due_date", "created_at", "id"]

    def get_queryset(self):
        return selectors.promises_for(**self.caller())

    def create_record(self, request):
        data = dict(self.input(s.PromiseIn))
        case = data.pop("case")
        promise = case_services.promise_record(actor=request.user, case_id=case.pk, **data)
        return self.output(promise, status_code=status.HTTP_201_CREATED)


class PaymentPlanViewSet(ApiViewSet):
    serializer_class = s.PaymentPlanSerializer
    filterset_class = filters.PaymentPlanFilter
    ordering_fields = ["created_at", "id"]

    def get_queryset(self):
        return selectors.plans_for(**self.caller())


@extend_schema_view(post=extend_schema(
    request=None, responses={200: s.PaymentPlanSerializer},
    description="The debtor agreed a proposed plan: it goes live. A plan beyond the payment-plan guardrails needs a supervisor or admin.",
))
class PaymentPlanAgree(ApiMixin, generics.GenericAPIView):
    serializer_class = s.PaymentPlanSerializer

    def get_queryset(self):
        return selectors.plans_for(**self.caller(), for_write=True)

    def post(self, request, *args, **kwargs):
        plan = case_services.plan_agree(actor=request.user, plan_id=self.get_object().pk)
        return self.output(self.reload(plan))


@extend_schema_view(post=extend_schema(
    request=s.PlanCancelIn, responses={200: s.PaymentPlanSerializer},
    description="Reject a proposed plan or cancel a live one, with the reason. Payments already made stay.",
))
class PaymentPlanCancel(ApiMixin, generics.GenericAPIView):
    serializer_class = s.PaymentPlanSerializer

    def get_queryset(self):
        return selectors.plans_for(**self.caller(), for_write=True)

    def post(self, request, *args, **kwargs):
        reason = self.input(s.PlanCancelIn)["reason"]
        plan = case_services.plan_cancel(actor=request.user, plan_id=self.get_object().pk, reason=reason)
        return self.output(self.reload(plan))


@extend_schema_view(
    create=extend_schema(
        request=s.PaymentIn, parameters=[IDEMPOTENCY_HEADER],
        responses={201: s.PaymentSerializer, 200: OpenApiResponse(s.PaymentSerializer, description="Replay of an earlier call with the same Idempotency-Key")},
    ),
)
class PaymentViewSet(IdempotentCreateMixin, ApiViewSet):
    serializer_class = s.PaymentSerializer
    filterset_class = filters.PaymentFilter
    ordering_fields = ["received_on", "amount", "id"]

    def get_queryset(self):
        return selectors.payments_for(**self.caller())

    def create_record(self, request):
        # The key is claimed in the client's shared key space (IdempotentCreateMixin), and the
        # payment carries it as its own unique key too (payment_post), which also catches a
        # payment posted with it before the shared records existed.
        data = dict(self.input(s.PaymentIn))
        case = data.pop("case")
        key = idempotency_key(request)
        scoped = api_services.payment_idempotency_key(scope=idempotency_scope(request), key=key) if key else None
        now = timezone.now()
        payment = case_services.payment_post(actor=request.user, case_id=case.pk, idempotency_key=scoped, now=now, **data)
        if payment.created_at != now:
            if payment.case_id != case.pk or payment.amount != data["amount"]:
                raise IdempotencyConflict()
            return self.output(payment)
        return self.output(payment, status_code=status.HTTP_201_CREATED)


# --- Templates ------------------------------------------------------------------------------


class TemplateViewSet(ApiViewSet):
    serializer_class = s.TemplateSerializer
    filterset_class = filters.TemplateFilter
    ordering_fields = ["name", "id"]

    def get_queryset(self):
        return selectors.templates_for()


# --- Follow-ups and outbound messages (the follow-up engine writes them; read-only here) -----


class FollowUpViewSet(ApiViewSet):
    serializer_class = s.FollowUpSerializer
    filterset_class = filters.FollowUpFilter
    ordering_fields = ["due_at", "id"]

    def get_queryset(self):
        return selectors.followups_for(**self.caller())


class OutboundMessageViewSet(ApiViewSet):
    serializer_class = s.OutboundMessageSerializer
    filterset_class = filters.OutboundMessageFilter
    ordering_fields = ["created_at", "id"]

    def get_queryset(self):
        return selectors.messages_for(**self.caller())


# --- Imports --------------------------------------------------------------------------------

IMPORT_UPLOAD_DESCRIPTION = "Upload a portfolio or payments file; it runs in the background. Admins only."

IMPORT_OPTIONS = ("create_missing_creditors", "assign_mode", "assign_agent", "assign_team")


def _import_options(data: dict, job) -> dict:
    """The assignment and creditor options given, else the job's own."""
    return {name: data[name] if name in data else getattr(job, name) for name in IMPORT_OPTIONS}



@extend_schema_view(
    list=extend_schema(description=IMPORT_UPLOAD_DESCRIPTION),
    create=extend_schema(request={"multipart/form-data": s.ImportJobIn}, responses={202: s.ImportJobSerializer},
                         description=IMPORT_UPLOAD_DESCRIPTION),
)
class ImportJobViewSet(ApiViewSet):
    serializer_class = s.ImportJobSerializer
    ordering_fields = ["created_at", "id"]
    read_roles = (Role.ADMIN,)
    parser_classes = [MultiPartParser, FormParser]
    list_description = IMPORT_UPLOAD_DESCRIPTION

    @property
    def write_roles(self):
        # Uploading is for admins. A record takes no write: a write to it is a 405 (after the
        # token's write scope), as it was.
        return ALL_ROLES if self.detail else (Role.ADMIN,)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Uploads come as multipart; a record's URL keeps DRF's default parsers (what OPTIONS says).
        if self.detail:
            self.parser_classes = api_settings.DEFAULT_PARSER_CLASSES

    def get_queryset(self):
        return selectors.imports_for(creditor_id=self.caller()["creditor_id"])

    def create(self, request, *args, **kwargs):
        data = self.input(s.ImportJobIn)
        job = import_services.import_job_create(
            actor=request.user, creditor=data["creditor"], kind=data["kind"], upload=data["file"],
            all_or_nothing=data["all_or_nothing"], day_first=data["day_first"],
        )
        # (A form post sends an absent check box as false: only options actually set count.)
        if "mapping" in data or any(data.get(name) for name in IMPORT_OPTIONS):
            import_services.import_job_configure(actor=request.user, job_id=job.pk, mapping=data.get("mapping", job.mapping),
                                                 day_first=data["day_first"], decimal_comma=job.decimal_comma,
                                                 all_or_nothing=data["all_or_nothing"], **_import_options(data, job))
        if data["start"]:
            job = import_services.import_job_start(actor=request.user, job_id=job.pk)
        job.refresh_from_db()
        return self.output(job, status_code=status.HTTP_202_ACCEPTED)


@extend_schema_view(post=extend_schema(
    request=s.ImportStartIn, responses={202: s.ImportJobSerializer},
    description="Start an import uploaded with start=false, after checking its preview; the mapping and options given replace the job's.",
))
class ImportJobStart(ApiMixin, generics.GenericAPIView):
    serializer_class = s.ImportJobSerializer
    read_roles = write_roles = (Role.ADMIN,)

    def get_queryset(self):
        return selectors.imports_for(creditor_id=self.caller()["creditor_id"])

    def post(self, request, *args, **kwargs):
        job = self.get_object()
        data = self.input(s.ImportStartIn)
        if data:
            import_services.import_job_configure(
                actor=request.user, job_id=job.pk, mapping=data.get("mapping", job.mapping),
                day_first=data.get("day_first", job.day_first), decimal_comma=data.get("decimal_comma", job.decimal_comma),
                all_or_nothing=data.get("all_or_nothing", job.all_or_nothing), **_import_options(data, job),
            )
        job = import_services.import_job_start(actor=request.user, job_id=job.pk)
        job.refresh_from_db()
        return self.output(job, status_code=status.HTTP_202_ACCEPTED)


@extend_schema(responses={200: s.ImportPreviewSerializer})
class ImportJobPreview(ApiMixin, generics.GenericAPIView):
    """The first rows of the file as the import will read them with the job's mapping: each
    row's verdict and, if rejected, why."""

    serializer_class = s.ImportPreviewSerializer
    read_roles = (Role.ADMIN,)
    filter_backends: list = []

    def get_queryset(self):
        return selectors.imports_for(creditor_id=self.caller()["creditor_id"])

    def get(self, request, *args, **kwargs):
        job = self.get_object()
        rows = [
            {"line": row["line"], "ok": row["ok"], "cells": ["" if c is None else str(c) for c in row["cells"]],
             "errors": [{"column": c, "value": v, "message": m} for c, v, m in row["errors"]],
             "warnings": [{"column": c, "value": v, "message": m} for c, v, m in row["warnings"]]}
            for row in import_services.import_job_preview(job=job)
        ]
        return Response(s.ImportPreviewSerializer({"headers": job.headers, "mapping": job.mapping, "rows": rows}).data)


class ImportJobErrors(ApiMixin, generics.ListAPIView):
    """The report of an import: the rejected rows in file order, then the warnings (rows imported
    with a value kept as unusable); ``severity`` says which."""

    serializer_class = s.ImportRowErrorSerializer
    read_roles = (Role.ADMIN,)
    filter_backends: list = []

    def get_queryset(self):
        job = generics.get_object_or_404(selectors.imports_for(creditor_id=self.caller()["creditor_id"]), pk=self.kwargs["pk"])
        return import_selectors.import_row_errors(job=job)
