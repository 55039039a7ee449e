from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect

from .forms import PasswordResetForm, SetPasswordForm
from .lockout import client_ip
from .password_reset import password_reset_mail_allowed


class LoginView(auth_views.LoginView):
    """Django's login, plus: the interface opens in the user's own language unless the browser
    already chose one with the language switch."""

    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        if settings.LANGUAGE_COOKIE_NAME not in self.request.COOKIES:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, form.get_user().language, samesite="Lax")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset request (the same answer whether the address has an account or not), limited
    per client address and per e-mail address: over a limit, the same answer and no e-mail."""

    form_class = PasswordResetForm
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    def form_valid(self, form):
        if not password_reset_mail_allowed(client_ip=client_ip(self.request), email=form.cleaned_data["email"]):
            return HttpResponseRedirect(self.get_success_url())
        self.extra_email_context = {"valid_minutes": settings.PASSWORD_RESET_TIMEOUT // 60}  # read per request
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's link check and new-password form; the password is saved by the accounts service
    (password rules, audit row, lockouts lifted)."""

    form_class = SetPasswordForm
