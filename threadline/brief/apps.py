from django.apps import AppConfig


class BriefConfig(AppConfig):
    name = "threadline.brief"
    label = "brief"
