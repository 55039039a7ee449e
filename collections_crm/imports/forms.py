from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from cases.models import Creditor
from collections_crm.accounts.models import Role, Team, User

from .models import AssignMode, ImportKind, WatchedFolder
from .rows import TARGETS


class UploadForm(forms.Form):
    creditor = forms.ModelChoiceField(label=_("Creditor"), queryset=Creditor.objects.filter(active=True))
    kind = forms.ChoiceField(label=_("What the file holds"), choices=ImportKind.choices)
    file = forms.FileField(label=_("CSV or XLSX file"), help_text=_("Comma, semicolon or tab separated; UTF-8 or Windows-1252."))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.CRM_IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is %(size).1f MB; the limit is %(limit).0f MB.")
                % {"size": upload.size / 1024 / 1024, "limit": settings.CRM_IMPORT_MAX_BYTES / 1024 / 1024}
            )
        return upload


class MappingForm(forms.Form):
    """One select per target field, offering the file's columns."""

    day_first = forms.BooleanField(label=_("Dates are day/month/year"), required=False)
    decimal_comma = forms.BooleanField(label=_("Amounts use a decimal comma (1.234,56)"), required=False)
    all_or_nothing = forms.BooleanField(label=_("All or nothing: import no row if any row is rejected"), required=False)
    create_missing_creditors = forms.BooleanField(
        label=_("Create missing creditors"), required=False,
        help_text=_("With a creditor column: a creditor no code or name matches is created (else its rows are rejected)."))
    assign_mode = forms.ChoiceField(label=_("Assign the new cases"), choices=AssignMode.choices, required=False,
                                    help_text=_("An agent column in the file wins over this, row by row."))
    assign_agent = forms.ModelChoiceField(label=_("Agent"), required=False, queryset=User.objects.none())
    assign_team = forms.ModelChoiceField(label=_("Team"), required=False, queryset=Team.objects.all())

    def __init__(self, *args, job, **kwargs):
        super().__init__(*args, **kwargs)
        self.job = job
        choices = [("", _("— not in the file —"))] + [(h, h) for h in job.headers if h]
        labels = {t.name: t.label for t in TARGETS[job.kind]}
        for target in TARGETS[job.kind]:
            label = f"{target.label} *" if target.required else str(target.label)
            if target.or_else:  # either amount column is enough
                label = _("%(field)s * (or %(other)s)") % {"field": target.label, "other": labels[target.or_else]}
            self.fields[f"map_{target.name}"] = forms.ChoiceField(label=label, choices=choices, required=False,
                                                                  initial=job.mapping.get(target.name, ""))
        self.fields["day_first"].initial = job.day_first
        self.fields["decimal_comma"].initial = job.decimal_comma
        self.fields["all_or_nothing"].initial = job.all_or_nothing
        self.fields["assign_agent"].queryset = User.objects.filter(role=Role.AGENT, is_active=True).order_by("username")
        for name in ("create_missing_creditors", "assign_mode", "assign_agent", "assign_team"):
            self.fields[name].initial = getattr(job, name)
        if job.kind != ImportKind.PORTFOLIO:
            for name in ("create_missing_creditors", "assign_mode", "assign_agent", "assign_team"):
                del self.fields[name]
        # The columns first, then how to read and what to do with the rows.
        self.order_fields([name for name in self.fields if name.startswith("map_")])

    def options(self) -> dict:
        """The keyword arguments of import_job_configure besides the mapping."""
        data = self.cleaned_data
        return {name: data[name] for name in ("day_first", "decimal_comma", "all_or_nothing", "create_missing_creditors",
                                              "assign_mode", "assign_agent", "assign_team") if name in data}

    def mapping(self) -> dict[str, str]:
        return {name.removeprefix("map_"): value for name, value in self.cleaned_data.items() if name.startswith("map_") and value}


class WatchedFolderForm(forms.ModelForm):
    class Meta:
        model = WatchedFolder
        fields = ["path", "creditor", "kind", "all_or_nothing", "create_missing_creditors", "assign_mode", "assign_agent",
                  "assign_team", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["creditor"].queryset = Creditor.objects.filter(active=True)
        self.fields["assign_agent"].queryset = User.objects.filter(role=Role.AGENT, is_active=True).order_by("username")
        self.fields["path"].help_text = _("Inside %(root)s (a name alone is made there). The files are imported with the "
                                          "creditor's saved column mapping.") % {"root": settings.CRM_IMPORT_FOLDER_ROOT}

    def validate_unique(self):
        """(The service checks the path once it is made absolute.)"""
