from django.apps import AppConfig


class TimelineConfig(AppConfig):
    name = "threadline.timeline"
    label = "timeline"
