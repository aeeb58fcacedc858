from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "threadline.search"
    label = "search"
