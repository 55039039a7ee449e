"""The password-reset forms: Django's, with the e-mail written in the user's own language and the
new password saved by the accounts service."""

from __future__ import annotations

from django.contrib.auth import forms as auth_forms
from django.utils import translation

from .password_reset import user_password_reset


class PasswordResetForm(auth_forms.PasswordResetForm):
    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email,
                  html_email_template_name=None):
        # The request may come in another language than the one the user chose for the CRM.
        with translation.override(context["user"].language):
            super().send_mail(subject_template_name, email_template_name, context, from_email, to_email,
                              html_email_template_name)


class SetPasswordForm(auth_forms.SetPasswordForm):
    def save(self, commit=True):
        return user_password_reset(user_id=self.user.pk, password=self.cleaned_data["new_password1"])
