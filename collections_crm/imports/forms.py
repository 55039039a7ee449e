from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from cases.models import Creditor

from .models import ImportKind
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

    def __init__(self, *args, job, **kwargs):
        super().__init__(*args, **kwargs)
        self.job = job
        choices = [("", _("— not in the file —"))] + [(h, h) for h in job.headers if h]
        for target in TARGETS[job.kind]:
            label = f"{target.label} *" if target.required else str(target.label)
            self.fields[f"map_{target.name}"] = forms.ChoiceField(label=label, choices=choices, required=False,
                                                                  initial=job.mapping.get(target.name, ""))
        self.fields["day_first"].initial = job.day_first
        self.fields["decimal_comma"].initial = job.decimal_comma
        self.fields["all_or_nothing"].initial = job.all_or_nothing

    def mapping(self) -> dict[str, str]:
        return {name.removeprefix("map_"): value for name, value in self.cleaned_data.items() if name.startswith("map_") and value}
