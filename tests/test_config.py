"""Configuration read from the environment: a bad value is refused by name."""

import pytest

from threadline import config


def test_no_database_url_means_the_embedded_default(monkeypatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)

    assert config.env_database("DATABASE_URL") is None


def test_a_postgres_url_names_its_database(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://crm@db.example:5433/threadline")

    database = config.env_database("DATABASE_URL")

    assert database is not None
    assert (database["HOST"], database["PORT"], database["NAME"]) == (
        "db.example",
        5433,
        "threadline",
    )


def test_a_url_of_no_known_database_is_refused_by_name(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "oracle-ish://somewhere/db")

    with pytest.raises(config.ConfigurationError, match="DATABASE_URL must be"):
        config.env_database("DATABASE_URL")


def test_postgres_without_its_driver_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://crm@localhost/threadline")
    monkeypatch.setattr(config, "_installed", lambda module: False)

    with pytest.raises(config.ConfigurationError, match="make install-postgres"):
        config.env_database("DATABASE_URL")
