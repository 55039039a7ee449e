from django.contrib import admin

from collections_crm.core.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import ContactAttempt, ExcuseCategory, MessageTemplate, MessageTemplateVersion, Technique


@admin.register(Technique)
class TechniqueAdmin(ReadOnlyAdmin):
    list_display = ("code", "name_es", "name_en", "active", "position")


@admin.register(ExcuseCategory)
class ExcuseCategoryAdmin(ReadOnlyAdmin):
    list_display = ("code", "name_es", "name_en", "suggested_objective", "is_barrier", "active")


@admin.register(ContactAttempt)
class ContactAttemptAdmin(ReadOnlyAdmin):
    list_display = ("case", "channel", "direction", "agent", "occurred_at", "objective", "outcome")
    list_filter = ("channel", "objective", "outcome")
    raw_id_fields = ("case", "contact_point")


class VersionInline(ReadOnlyInline):
    model = MessageTemplateVersion
    extra = 0
    readonly_fields = ("number", "subject", "body", "created_by", "created_at")


@admin.register(MessageTemplate)
class MessageTemplateAdmin(ReadOnlyAdmin):
    list_display = ("name", "objective", "channel", "language", "active")
    inlines = [VersionInline]
