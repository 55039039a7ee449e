from django.contrib import admin

from collections_crm.core.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import ContactPoint, Debtor


class ContactPointInline(ReadOnlyInline):
    model = ContactPoint
    extra = 0


@admin.register(Debtor)
class DebtorAdmin(ReadOnlyAdmin):
    list_display = ("name", "kind", "document_type", "country", "do_not_contact", "cease_communication")
    list_filter = ("kind", "country", "do_not_contact", "cease_communication", "attorney_represented", "deceased", "bankruptcy",
                   "legal_hold", ("anonymised_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "=document_number")
    inlines = [ContactPointInline]
