from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from .models import ApiToken
from .services import api_token_create, api_token_revoke


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Admins create a token here; its key is shown once, in the confirmation message."""

    list_display = ("name", "creditor", "can_write", "user", "key_hint", "created_at", "last_used_at", "revoked_at")
    list_filter = ("can_write", "creditor")
    fields = ("name", "creditor", "user", "can_write", "key_hint", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("key_hint", "created_at", "last_used_at", "revoked_at")
    raw_id_fields = ("user",)
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        return obj is None  # a token is replaced, not edited

    def has_delete_permission(self, request, obj=None):
        return False  # revoked tokens stay for the audit trail

    def save_model(self, request, obj, form, change):
        token, raw = api_token_create(
            actor=request.user, name=obj.name, creditor=obj.creditor, user=obj.user, can_write=obj.can_write
        )
        obj.pk = token.pk
        messages.warning(request, _("Copy the key now; it is not stored and will not be shown again: %(key)s") % {"key": raw})

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(actor=request.user, token_id=token.pk)
        messages.success(request, _("Revoked."))
