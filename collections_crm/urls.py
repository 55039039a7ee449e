from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from collections_crm.accounts import views as account_views
from collections_crm.core import views as core_views
from collections_crm.observability import views as observability_views
from collections_crm.portal import webhooks as portal_webhooks
from collections_crm.shell import views as shell_views

urlpatterns = [
    path("", shell_views.home, name="home"),
    path("favicon.ico", shell_views.favicon, name="favicon"),
    path("healthz", core_views.healthz_live, name="healthz"),
    path("healthz/live", core_views.healthz_live, name="healthz_live"),
    path("healthz/ready", core_views.healthz_ready, name="healthz_ready"),
    path("healthz/status", core_views.healthz_status, name="healthz_status"),
    path("healthz/beat", core_views.healthz_beat, name="healthz_beat"),
    path("metrics", observability_views.metrics, name="metrics"),
    path("accounts/login/", account_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    # Self-service reset by e-mail, for people who are not logged in (limits: accounts.password_reset).
    path("accounts/password/reset/", login_not_required(account_views.PasswordResetView.as_view()), name="password_reset"),
    path("accounts/password/reset/sent/", login_not_required(auth_views.PasswordResetDoneView.as_view()),
         name="password_reset_done"),
    path("accounts/password/reset/<uidb64>/<token>/", login_not_required(account_views.PasswordResetConfirmView.as_view()),
         name="password_reset_confirm"),
    path("accounts/password/reset/complete/", login_not_required(auth_views.PasswordResetCompleteView.as_view()),
         name="password_reset_complete"),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("cases/", include("collections_crm.desk.urls")),
    path("django-admin/", admin.site.urls),
    path("portfolio/", include("collections_crm.reports.urls")),
    path("manage/", include("collections_crm.adminarea.urls")),
    path("api/v1/", include("collections_crm.api.urls")),
    path("imports/", include("collections_crm.imports.urls")),
    path("p/", include("collections_crm.portal.urls")),
    path("webhooks/payments/<str:provider>/", portal_webhooks.payment_callback, name="payment_callback"),
]
