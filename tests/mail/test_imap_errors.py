"""The real imapclient against a tiny server on the loopback interface.

The server answers just enough IMAP to refuse a password or a folder, or to
hand over two messages, so the real client's errors are checked against the
words people see and its answers against what the sync reads from them.
Nothing leaves this machine.
"""

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from tests.mail.conftest import build_message
from threadline.mail.imap import ImapSettings, SyncFailed, connect, sync_mailbox
from threadline.mail.models import Mailbox
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event

pytestmark = pytest.mark.django_db


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    # Which command to refuse: "login", "select", or none.
    refuse = ""


class _Handler(socketserver.StreamRequestHandler):
    """Greets, then refuses LOGIN or SELECT, or serves two messages."""

    def handle(self) -> None:
        self.wfile.write(b"* OK [CAPABILITY IMAP4rev1] test server ready\r\n")
        for line in self.rfile:
            tag, _, rest = line.decode().strip().partition(" ")
            command = rest.split(" ", 1)[0].upper()
            self.wfile.write(self._answer(tag, command, rest).encode())
            if command == "LOGOUT":
                return

    def _answer(self, tag: str, command: str, rest: str) -> str:
        assert isinstance(self.server, _Server)
        refuse = self.server.refuse
        if command == "CAPABILITY":
            return f"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n"
        if command == "LOGIN":
            if refuse == "login":
                return f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"
            return f"{tag} OK logged in\r\n"
        if command in {"SELECT", "EXAMINE"} and refuse == "select":
            return f"{tag} NO [NONEXISTENT] Unknown Mailbox\r\n"
        if command in {"SELECT", "EXAMINE"}:
            return (
                f"* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n"
                f"{tag} OK [READ-ONLY] examined\r\n"
            )
        if command == "UID":
            return self._uid(tag, rest)
        if command == "LOGOUT":
            return f"* BYE\r\n{tag} OK bye\r\n"
        return f"{tag} BAD unexpected\r\n"

    def _uid(self, tag: str, rest: str) -> str:
        if " SEARCH " in f" {rest.upper()} ":
            return f"* SEARCH 1 2\r\n{tag} OK searched\r\n"
        answer = ""
        for uid in (1, 2):
            raw = build_message(message_id=f"<real{uid}@example.net>").decode()
            answer += (
                f"* {uid} FETCH (UID {uid} INTERNALDATE "
                f'"04-Mar-2025 09:30:00 +0000" BODY[] {{{len(raw)}}}\r\n{raw})\r\n'
            )
        return answer + f"{tag} OK fetched\r\n"


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[int]:
    refuse = request.param
    with _Server(("127.0.0.1", 0), _Handler) as tcp:
        tcp.refuse = refuse
        thread = threading.Thread(target=tcp.serve_forever, daemon=True)
        thread.start()
        yield tcp.server_address[1]
        tcp.shutdown()


def _settings(port: int) -> ImapSettings:
    return ImapSettings(
        name="main",
        suffix="",
        host="127.0.0.1",
        port=port,
        username="desk@example.com",
        password="wrong",
        folder="Kunden",
        ssl=False,
    )


@pytest.mark.parametrize("server", ["login"], indirect=True)
def test_a_refused_password_says_which_variables_to_check(server):
    with pytest.raises(SyncFailed):
        sync_mailbox(_settings(server))

    error = Mailbox.objects.get().last_error
    assert "refused the user name or password for desk@example.com" in error
    assert "THREADLINE_IMAP_PASSWORD" in error


@pytest.mark.parametrize("server", ["select"], indirect=True)
def test_a_missing_folder_says_so(server):
    with pytest.raises(SyncFailed):
        sync_mailbox(_settings(server))

    assert "The folder 'Kunden' does not exist" in Mailbox.objects.get().last_error


def test_a_closed_port_says_the_connection_was_refused():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(SyncFailed):
        sync_mailbox(_settings(port))

    assert "refused the connection" in Mailbox.objects.get().last_error


@pytest.mark.parametrize("server", [""], indirect=True)
def test_the_real_client_hands_over_messages_the_sync_can_read(server, make_party):
    jane = make_party("Jane Example", emails=["jane@example.net"])
    settings = ImapSettings(**{**_settings(server).__dict__, "folder": "INBOX"})

    result = sync_mailbox(settings, open_client=connect)

    assert result.fetched == 2
    assert Event.objects.filter(party=jane, kind=Kind.MESSAGE).count() == 2
    assert Mailbox.objects.get().uid_validity == 7
