"""The URL map: each app owns its own patterns."""

from django.urls import include, path

urlpatterns = [
    path("accounts/", include("threadline.accounts.urls")),
    path("", include("threadline.web.urls")),
]
