from django.apps import AppConfig


class SelfServiceConfig(AppConfig):
    name = "collections_crm.selfservice"
    label = "selfservice"
    verbose_name = "Self-service"

    def ready(self) -> None:
        from contacts.hooks import portal_link

        from .links import link_for_message

        portal_link.answer(link_for_message)
