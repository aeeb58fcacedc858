from django.apps import AppConfig


class FollowupsConfig(AppConfig):
    name = "threadline.followups"
    label = "followups"
