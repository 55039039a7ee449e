from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from collections_crm.accounts.access import ALL_ROLES, role_required

from . import views
from .authentication import ApiTokenAuthentication

app_name = "api"

# One viewset per kind of record: /<records>/ (list, and create where the API creates them)
# and /<records>/<int:pk>/ (detail, and partial update where it updates them), named
# "<basename>-list" and "<basename>-detail".
router = SimpleRouter(trailing_slash=True, use_regex_path=False)
router.register("creditors", views.CreditorViewSet, basename="creditor")
router.register("debtors", views.DebtorViewSet, basename="debtor")
router.register("cases", views.CaseViewSet, basename="case")
router.register("contact-attempts", views.ContactAttemptViewSet, basename="attempt")
router.register("promises", views.PromiseViewSet, basename="promise")
router.register("payment-plans", views.PaymentPlanViewSet, basename="plan")
router.register("payments", views.PaymentViewSet, basename="payment")
router.register("follow-ups", views.FollowUpViewSet, basename="followup")
router.register("messages", views.OutboundMessageViewSet, basename="message")
router.register("imports", views.ImportJobViewSet, basename="import")
router.register("templates", views.TemplateViewSet, basename="template")

urlpatterns = [
    *router.urls,
    # The operations on one record.
    path("debtors/<int:pk>/contact-points/", views.DebtorContactPointCreate.as_view(), name="debtor-contact-points"),
    path("cases/<int:pk>/status/", views.CaseStatusChange.as_view(), name="case-status"),
    path("payment-plans/<int:pk>/agree/", views.PaymentPlanAgree.as_view(), name="plan-agree"),
    path("payment-plans/<int:pk>/cancel/", views.PaymentPlanCancel.as_view(), name="plan-cancel"),
    path("imports/<int:pk>/errors/", views.ImportJobErrors.as_view(), name="import-errors"),
    path("imports/<int:pk>/preview/", views.ImportJobPreview.as_view(), name="import-preview"),
    path("imports/<int:pk>/start/", views.ImportJobStart.as_view(), name="import-start"),
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
