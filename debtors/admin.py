from django.contrib import admin

from .models import ContactPoint, Debtor


class ContactPointInline(admin.TabularInline):
    model = ContactPoint
    extra = 0


@admin.register(Debtor)
class DebtorAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "document_type", "country", "do_not_contact", "cease_communication")
    list_filter = ("kind", "country", "do_not_contact", "cease_communication", "attorney_represented", "deceased", "bankruptcy")
    search_fields = ("name", "=document_number")
    inlines = [ContactPointInline]
