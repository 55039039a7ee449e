from django.contrib import admin

from collections_crm.core.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import Barrier, Case, Creditor, Instalment, Payment, PaymentPlan, PromiseToPay


@admin.register(Creditor)
class CreditorAdmin(ReadOnlyAdmin):
    list_display = ("name", "code", "kind", "currency", "active")


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ("reference", "creditor", "debtor", "balance", "currency", "status", "objective", "assigned_agent", "next_action_at")
    list_filter = ("status", "objective", "creditor")
    search_fields = ("=reference", "debtor__name")
    raw_id_fields = ("debtor", "assigned_agent")
    readonly_fields = ("version",)


@admin.register(PromiseToPay)
class PromiseAdmin(ReadOnlyAdmin):
    list_display = ("case", "amount", "due_date", "status")
    list_filter = ("status",)
    raw_id_fields = ("case", "contact_attempt")


class InstalmentInline(ReadOnlyInline):
    model = Instalment
    extra = 0


@admin.register(PaymentPlan)
class PaymentPlanAdmin(ReadOnlyAdmin):
    list_display = ("case", "total_amount", "instalment_count", "frequency", "status")
    raw_id_fields = ("case",)
    inlines = [InstalmentInline]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("case", "amount", "received_on", "method", "reference")
    raw_id_fields = ("case",)


@admin.register(Barrier)
class BarrierAdmin(ReadOnlyAdmin):
    list_display = ("case", "kind", "status", "opened_at")
    list_filter = ("kind", "status")
    raw_id_fields = ("case",)
