"""threadline serve: the first-run banner and the address it prints."""

from typing import Any

import pytest

from threadline.accounts.models import SetupToken
from threadline.web.management.commands.serve import public_url, setup_banner


@pytest.mark.django_db
def test_serve_prints_a_one_time_setup_link_when_no_owner_exists() -> None:
    banner = setup_banner("127.0.0.1", 8000)

    token = SetupToken.objects.get().token
    assert f"http://127.0.0.1:8000/accounts/setup/{token}/" in banner
    assert "create" in banner


def test_serve_prints_no_setup_link_once_an_owner_exists(owner: Any) -> None:
    assert setup_banner("127.0.0.1", 8000) == ""
    assert not SetupToken.objects.exists()


@pytest.mark.django_db
def test_serve_issues_a_fresh_link_on_each_start_without_an_owner() -> None:
    first = setup_banner("127.0.0.1", 8000)
    second = setup_banner("127.0.0.1", 8000)

    assert first != second


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000"),
        ("0.0.0.0", "http://127.0.0.1:8000"),
        ("crm.example.com", "http://crm.example.com:8000"),
        ("::1", "http://[::1]:8000"),
    ],
)
def test_serve_shows_an_address_a_browser_can_open(host: str, url: str) -> None:
    assert public_url(host, 8000) == url
