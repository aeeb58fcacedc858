"""Mail test helpers: building messages, and reaching the shared corpus."""

from collections.abc import Callable
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "email"


def corpus_files() -> list[Path]:
    """Every email file of the shared corpus; empty when it is absent."""
    if not CORPUS.is_dir():
        return []
    return sorted(CORPUS.iterdir())


def build_message(
    *,
    sender: str = "Jane Example <jane@example.net>",
    to: str = "Sales <sales@example.com>",
    subject: str = "Boiler service",
    body: str = "Could you come on Tuesday?",
    message_id: str = "<m1@example.net>",
    date: str = "Tue, 04 Mar 2025 09:30:00 +0000",
    extra: str = "",
) -> bytes:
    headers = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {date}",
    ]
    if message_id:
        headers.append(f"Message-ID: {message_id}")
    if extra:
        headers.append(extra.strip())
    headers += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()


@pytest.fixture
def write_eml(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1, 10_000))

    def write(**fields: str) -> Path:
        path = tmp_path / f"message-{next(counter)}.eml"
        path.write_bytes(build_message(**fields))
        return path

    return write


@pytest.fixture(autouse=True)
def _own_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADLINE_OWN_ADDRESSES", "sales@example.com,@example.com")
