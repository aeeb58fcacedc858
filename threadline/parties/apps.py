from django.apps import AppConfig


class PartiesConfig(AppConfig):
    name = "threadline.parties"
    label = "parties"
