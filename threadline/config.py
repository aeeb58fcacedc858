"""Typed readers for the environment variables that configure Threadline.

Every variable is documented in the README's "Configuration" table. A bad
value stops the process at start-up with a message naming the variable.
"""

import importlib.util
import os
import secrets
import zoneinfo
from pathlib import Path
from typing import Any

import dj_database_url
import phonenumbers


class ConfigurationError(Exception):
    """An environment variable holds a value Threadline cannot use."""


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def env_database(name: str) -> dict[str, Any] | None:
    """The database a URL in `name` names, or None when it is empty; refuse
    one Threadline cannot reach with what is installed."""
    url = env_str(name, "")
    if not url:
        return None
    try:
        database = dj_database_url.parse(url, conn_max_age=60)
    except ValueError as error:
        raise ConfigurationError(
            f"{name} must be a database URL such as "
            f"postgres://user@host:5432/threadline, not {url!r}: {error}"
        ) from error
    if "postgresql" in database["ENGINE"] and not _installed("psycopg"):
        raise ConfigurationError(
            f"{name} names a PostgreSQL database, but its driver is not installed "
            "here. Run `make install-postgres` (or `.venv/bin/pip install -e "
            "'.[postgres]'`), then start again."
        )
    return dict(database)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise ConfigurationError(
            f"{name} must be a whole number, not {raw!r}."
        ) from error


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}.")


def env_time_zone(name: str, default: str) -> str:
    value = env_str(name, default)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ConfigurationError(
            f"{name} must be an IANA time zone such as Europe/Berlin, not {value!r}."
        ) from error
    return value


def env_region(name: str, default: str) -> str:
    value = env_str(name, default).upper()
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigurationError(
            f"{name} must be a two-letter country code such as GB or US, not {value!r}."
        )
    return value


def env_currency(name: str, region: str) -> str:
    """The business's currency: the variable, else the region's own."""
    from babel.numbers import get_territory_currencies, list_currencies

    value = env_str(name, "").upper()
    if not value:
        currencies = get_territory_currencies(region)
        return currencies[0] if currencies else "EUR"
    if value not in list_currencies():
        raise ConfigurationError(
            f"{name} must be an ISO 4217 currency code such as EUR, not {value!r}."
        )
    return value


def data_dir() -> Path:
    path = Path(env_str("THREADLINE_DATA_DIR", "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret_key(directory: Path) -> str:
    """Return THREADLINE_SECRET_KEY, or a key generated once into the data dir."""
    configured = os.environ.get("THREADLINE_SECRET_KEY", "").strip()
    if configured:
        return configured
    key_file = directory / "secret_key"
    if not key_file.exists():
        try:
            with key_file.open("x") as handle:
                handle.write(secrets.token_urlsafe(50))
            key_file.chmod(0o600)
        except FileExistsError:
            pass  # another process wrote it first; read theirs
    return key_file.read_text().strip()


def env_addresses(name: str) -> tuple[frozenset[str], frozenset[str]]:
    """Read a comma-separated list of addresses and @domains, lower-cased."""
    addresses: set[str] = set()
    domains: set[str] = set()
    for item in os.environ.get(name, "").split(","):
        entry = item.strip().lower()
        if not entry:
            continue
        if entry.startswith("@") and "." in entry and "@" not in entry[1:]:
            domains.add(entry[1:])
        elif entry.count("@") == 1 and not entry.startswith("@"):
            addresses.add(entry)
        else:
            raise ConfigurationError(
                f"{name} must list addresses or @domains separated by commas, "
                f"such as 'info@example.com,@example.com'; {entry!r} is neither."
            )
    return frozenset(addresses), frozenset(domains)


IMAP_PREFIX = "THREADLINE_IMAP_HOST"


def imap_suffixes() -> list[str]:
    """The suffixes of the configured mailboxes: "" for THREADLINE_IMAP_HOST,
    "_SALES" for THREADLINE_IMAP_HOST_SALES, and so on."""
    return sorted(
        key.removeprefix(IMAP_PREFIX)
        for key, value in os.environ.items()
        if key.startswith(IMAP_PREFIX)
        and (key == IMAP_PREFIX or key[len(IMAP_PREFIX)] == "_")
        and value.strip()
    )
