from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from collections_crm.core.admin import ReadOnlyAdmin, ReadOnlyAdminMixin

from .models import Team, User


@admin.register(User)
class UserAdmin(ReadOnlyAdminMixin, BaseUserAdmin):
    list_display = ("username", "first_name", "last_name", "role", "team", "is_active")
    list_filter = ("role", "team", "is_active")
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("CRM", {"fields": ("role", "team", "language")}))


@admin.register(Team)
class TeamAdmin(ReadOnlyAdmin):
    list_display = ("name", "supervisor", "agents_see_team_cases")
