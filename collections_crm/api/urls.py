from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from collections_crm.accounts.access import ALL_ROLES, role_required

from . import views
from .authentication import ApiTokenAuthentication

app_name = "api"

urlpatterns = [
    path("creditors/", views.CreditorList.as_view(), name="creditor-list"),
    path("creditors/<int:pk>/", views.CreditorDetail.as_view(), name="creditor-detail"),
    path("debtors/", views.DebtorList.as_view(), name="debtor-list"),
    path("debtors/<int:pk>/", views.DebtorDetail.as_view(), name="debtor-detail"),
    path("debtors/<int:pk>/contact-points/", views.DebtorContactPointCreate.as_view(), name="debtor-contact-points"),
    path("cases/", views.CaseList.as_view(), name="case-list"),
    path("cases/<int:pk>/", views.CaseDetail.as_view(), name="case-detail"),
    path("cases/<int:pk>/status/", views.CaseStatusChange.as_view(), name="case-status"),
    path("contact-attempts/", views.ContactAttemptList.as_view(), name="attempt-list"),
    path("contact-attempts/<int:pk>/", views.ContactAttemptDetail.as_view(), name="attempt-detail"),
    path("promises/", views.PromiseList.as_view(), name="promise-list"),
    path("promises/<int:pk>/", views.PromiseDetail.as_view(), name="promise-detail"),
    path("payment-plans/", views.PaymentPlanList.as_view(), name="plan-list"),
    path("payment-plans/<int:pk>/", views.PaymentPlanDetail.as_view(), name="plan-detail"),
    path("payment-plans/<int:pk>/agree/", views.PaymentPlanAgree.as_view(), name="plan-agree"),
    path("payment-plans/<int:pk>/cancel/", views.PaymentPlanCancel.as_view(), name="plan-cancel"),
    path("payments/", views.PaymentList.as_view(), name="payment-list"),
    path("payments/<int:pk>/", views.PaymentDetail.as_view(), name="payment-detail"),
    path("follow-ups/", views.FollowUpList.as_view(), name="followup-list"),
    path("follow-ups/<int:pk>/", views.FollowUpDetail.as_view(), name="followup-detail"),
    path("messages/", views.OutboundMessageList.as_view(), name="message-list"),
    path("messages/<int:pk>/", views.OutboundMessageDetail.as_view(), name="message-detail"),
    path("imports/", views.ImportJobList.as_view(), name="import-list"),
    path("imports/<int:pk>/", views.ImportJobDetail.as_view(), name="import-detail"),
    path("imports/<int:pk>/errors/", views.ImportJobErrors.as_view(), name="import-errors"),
    path("imports/<int:pk>/preview/", views.ImportJobPreview.as_view(), name="import-preview"),
    path("imports/<int:pk>/start/", views.ImportJobStart.as_view(), name="import-start"),
    path("templates/", views.TemplateList.as_view(), name="template-list"),
    path("templates/<int:pk>/", views.TemplateDetail.as_view(), name="template-detail"),
    # The schema is for integrations too (token or session); the docs page is for people.
    path(
        "schema/",
        login_not_required(
            SpectacularAPIView.as_view(authentication_classes=[ApiTokenAuthentication, views.SessionAuthentication], permission_classes=[views.CrmApiPermission])
        ),
        name="schema",
    ),
    # Swagger UI renders style attributes from its own script: this page alone allows inline
    # styles (scripts stay limited to our files; the init script is a file of its own).
    path(
        "docs/",
        csp_replace({"style-src": [SELF, UNSAFE_INLINE]})(
            role_required(*ALL_ROLES)(SpectacularSwaggerSplitView.as_view(url_name="api:schema"))
        ),
        name="docs",
    ),
    # Anything else under /api/v1/ (an id that is not a number, a path that does not exist) is
    # a JSON 404 like the API's own, not the site's HTML page. Only paths ending in a slash: one
    # without is still sent to its slashed form first (APPEND_SLASH), as before.
    re_path(r"^(?:.*/)?$", views.not_found, name="not-found"),
]
