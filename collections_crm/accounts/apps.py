from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "collections_crm.accounts"
    label = "accounts"
    verbose_name = "Accounts"
