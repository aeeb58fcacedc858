from django.apps import AppConfig


class ThreadsConfig(AppConfig):
    name = "threadline.threads"
    label = "threads"
