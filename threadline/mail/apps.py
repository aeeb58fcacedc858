from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "threadline.mail"
    label = "mail"
