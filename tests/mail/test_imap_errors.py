"""The real imapclient against a tiny server on the loopback interface.

The server answers just enough IMAP to refuse a password or a folder, so the
errors the real client raises are checked against the words people see.
Nothing leaves this machine.
"""

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from threadline.mail.imap import ImapSettings, SyncFailed, sync_mailbox
from threadline.mail.models import Mailbox

pytestmark = pytest.mark.django_db


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    # Which command to refuse: "login", or anything else for SELECT.
    refuse = ""


class _Handler(socketserver.StreamRequestHandler):
    """Greets, then refuses LOGIN or SELECT as the server was told to."""

    def handle(self) -> None:
        self.wfile.write(b"* OK [CAPABILITY IMAP4rev1] test server ready\r\n")
        for line in self.rfile:
            tag, _, rest = line.decode().strip().partition(" ")
            command = rest.split(" ", 1)[0].upper()
            self.wfile.write(self._answer(tag, command).encode())
            if command == "LOGOUT":
                return

    def _answer(self, tag: str, command: str) -> str:
        assert isinstance(self.server, _Server)
        refuse = self.server.refuse
        if command == "CAPABILITY":
            return f"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n"
        if command == "LOGIN":
            if refuse == "login":
                return f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"
            return f"{tag} OK logged in\r\n"
        if command in {"SELECT", "EXAMINE"}:
            return f"{tag} NO [NONEXISTENT] Unknown Mailbox\r\n"
        if command == "LOGOUT":
            return f"* BYE\r\n{tag} OK bye\r\n"
        return f"{tag} BAD unexpected\r\n"


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
