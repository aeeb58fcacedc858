from django.apps import AppConfig


class TransferConfig(AppConfig):
    name = "threadline.transfer"
    label = "transfer"
