from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "threadline.accounts"
    label = "accounts"
