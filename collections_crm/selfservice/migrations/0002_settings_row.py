from django.db import migrations

WELCOME_ES = ("Aquí puede consultar su deuda y resolverla cuando le venga bien: pagar en línea, comprometerse "
              "a una fecha, elegir un plan de pagos o pedirnos lo que le falte.")
WELCOME_EN = ("Here you can see what you owe and settle it when it suits you: pay online, commit to a date, "
              "choose a payment plan or ask us for anything you are missing.")
HELP_ES = "¿Prefiere hablar con una persona? Llámenos de lunes a viernes de 9:00 a 19:00."
HELP_EN = "Would you rather talk to a person? Call us Monday to Friday, 9:00 to 19:00."


def create(apps, schema_editor):
    PortalSettings = apps.get_model("selfservice", "PortalSettings")
    PortalSettings.objects.get_or_create(pk=1, defaults={
        "welcome_es": WELCOME_ES, "welcome_en": WELCOME_EN, "help_es": HELP_ES, "help_en": HELP_EN})


class Migration(migrations.Migration):
    dependencies = [("selfservice", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
