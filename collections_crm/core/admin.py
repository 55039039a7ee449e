"""Django's admin shows the raw data, read-only: every change goes through the app's services,
which validate it and write the audit row (a save in Django's admin would do neither). Users,
teams, creditors, templates and policies are edited in the admin area (/manage/)."""

from django.contrib import admin


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
