"""Importing .eml and .mbox files onto timelines, threads and the triage list."""

import datetime as dt
from email.utils import format_datetime
from pathlib import Path

import pytest
from django.utils import timezone

from tests.mail.conftest import DATA, build_message, corpus_files
from threadline.accounts.services import deactivate_with_handover
from threadline.errors import InvalidInput
from threadline.mail.models import HeldMessage, UnknownSender
from threadline.parties.models import Party
from threadline.threads.models import Thread
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.transfer.importer import import_path
from threadline.transfer.models import ImportRun, RunStatus
from threadline.web.timeline import timeline_page

pytestmark = pytest.mark.django_db


def _messages(party: Party) -> list[Event]:
    return list(Event.objects.filter(party=party, kind=Kind.MESSAGE).order_by("id"))


def _write_mbox(path: Path, *messages: bytes) -> Path:
    path.write_bytes(
        b"".join(
            b"From jane@example.net Tue Mar  4 09:30:00 2025\n"
            + message.replace(b"\r\n", b"\n")
            + b"\n"
            for message in messages
        )
    )
    return path


def test_encoded_word_subject_with_raw_spaces_is_decoded(make_party):
    party = make_party("Jiří Příklad", emails=["jiri@example.cz"])

    report = import_path(DATA / "eml_encoded_word_subject.eml")

    [event] = _messages(party)
    assert event.summary == "Faktura pro společnost Example s.r.o."
    assert event.payload["sender"] == "Jiří Příklad <jiri@example.cz>"
    assert event.payload["message_id"] == "repro-encoded-subject-1@example.cz"
    assert event.external_id.startswith("repro-encoded-subject-1@example.cz|")
    assert event.direction == "inbound"
    assert event.body == "Dobrý den, v příloze zasílám fakturu."
    assert report.created["email"] == 1


def test_a_second_import_creates_nothing(make_party):
    party = make_party("Jiří Příklad", emails=["jiri@example.cz"])
    import_path(DATA / "eml_encoded_word_subject.eml")

    report = import_path(DATA / "eml_encoded_word_subject.eml")

    assert len(_messages(party)) == 1
    assert report.created["email"] == 0
    assert Thread.objects.filter(party=party).count() == 1


def test_a_second_copy_with_other_content_is_reported_and_the_first_kept(
    make_party, tmp_path
):
    jane = make_party("Jane Example", emails=["jane@example.net"])
    first = build_message(body="Could you come on Tuesday?")
    edited = build_message(body="Could you come on Wednesday instead?")
    box = _write_mbox(tmp_path / "box.mbox", first, first, edited)

    report = import_path(box)
    again = import_path(box)

    assert [event.body for event in _messages(jane)] == ["Could you come on Tuesday?"]
    expected = [
        (
            3,
            "Message-ID <m1@example.net> was imported before with other content; "
            "the earlier copy is kept (to keep both, give this copy its own "
            "Message-ID and import it again)",
            True,
        )
    ]
    assert [(p.line, p.message, p.skipped) for p in report.problems] == expected
    assert [(p.line, p.message, p.skipped) for p in again.problems] == expected
    assert (report.created["email"], again.created["email"]) == (1, 0)


def test_a_later_file_with_other_content_is_reported(write_eml):
    import_path(write_eml(subject="Boiler service"))

    report = import_path(write_eml(subject="Boiler service, urgent"))

    [problem] = report.problems
    assert problem.skipped
    assert problem.message.startswith(
        "Message-ID <m1@example.net> was imported before with other content"
    )
    held = HeldMessage.objects.get()
    assert held.message["subject"] == "Boiler service"


def test_a_copy_without_message_id_is_named_by_its_headers(make_party, tmp_path):
    make_party("Jane Example", emails=["jane@example.net"])
    first = build_message(message_id="", body="Tuesday?")
    edited = build_message(message_id="", body="Wednesday?")

    report = import_path(_write_mbox(tmp_path / "box.mbox", first, edited))

    [problem] = report.problems
    assert problem.message.startswith(
        "a message with the same headers and no Message-ID was imported before"
    )


def test_unknown_sender_is_kept_for_triage_with_its_messages(write_eml):
    import_path(DATA / "eml_encoded_word_subject.eml")
    import_path(DATA / "eml_encoded_word_subject.eml")

    sender = UnknownSender.objects.get()
    assert sender.address == "jiri@example.cz"
    assert sender.name == "Jiří Příklad"
    assert sender.message_count == 1
    assert sender.latest_subject == "Faktura pro společnost Example s.r.o."
    assert HeldMessage.objects.count() == 1
    assert not Event.objects.filter(kind=Kind.MESSAGE).exists()


def test_raw_8bit_headers_are_read_as_utf8_else_as_windows_1252(write_eml, tmp_path):
    import_path(write_eml(sender="Jiří Příklad <jiri@example.cz>", subject="Schön"))
    latin = tmp_path / "latin.eml"
    latin.write_bytes(
        build_message(
            message_id="<m2@example.net>", sender="x <jose@example.es>"
        ).replace(b"From: x", "From: José Núñez".encode("cp1252"))
    )
    import_path(latin)

    senders = UnknownSender.objects.order_by("address")
    assert [(s.name, s.latest_subject) for s in senders] == [
        ("Jiří Příklad", "Schön"),
        ("José Núñez", "Boiler service"),
    ]


def test_mail_from_our_own_address_is_outbound_to_each_recipient(
    make_party, write_eml, owner
):
    jane = make_party("Jane Example", emails=["jane@example.net"])
    john = make_party("John Example", emails=["JOHN@example.org"])
    path = write_eml(
        sender="Olivia <Olivia@Example.com>",
        to="Jane <jane@example.net>",
        extra="Cc: john@example.org, stranger@example.org",
    )

    import_path(path)

    assert [event.direction for event in _messages(jane)] == ["outbound"]
    assert [event.direction for event in _messages(john)] == ["outbound"]
    assert UnknownSender.objects.get().address == "stranger@example.org"


def test_a_deactivated_users_mail_stays_ours(make_party, write_eml, staff):
    staff.is_active = False
    staff.save()
    jane = make_party("Jane Example", emails=["jane@example.net"])

    import_path(write_eml(sender="Sam <sam@example.com>", to="jane@example.net"))

    assert [event.direction for event in _messages(jane)] == ["outbound"]


def test_mail_imported_while_a_user_was_active_stays_after_their_handover(
    make_party, write_eml, owner, staff, other_staff
):
    jane = make_party("Jane Example", emails=["jane@example.net"], owner=staff)
    bo = make_party("Bo Park", emails=["bo@example.org"])
    today = format_datetime(timezone.now() - dt.timedelta(hours=2))
    sent = write_eml(
        sender="Sam <sam@example.com>",
        to="jane@example.net",
        extra="Cc: bo@example.org",
        date=today,
    )
    reply = write_eml(
        sender="Jane <jane@example.net>",
        to="Sam <sam@example.com>",
        subject="Re: Boiler service",
        message_id="<m2@example.net>",
        extra="In-Reply-To: <m1@example.net>",
        date=today,
    )
    import_path(sent)
    import_path(reply)

    deactivate_with_handover(staff, Actor.for_user(owner), hand_to=other_staff)
    import_path(sent)
    import_path(reply)

    page = timeline_page(jane, kind=Kind.MESSAGE, viewer=other_staff)
    assert [(e.direction, e.payload["sender"]) for e in page.events] == [
        ("inbound", "Jane <jane@example.net>"),
        ("outbound", "Sam <sam@example.com>"),
    ]
    [thread] = {event.thread for event in page.events}
    assert thread.owner == other_staff
    [to_bo] = timeline_page(bo, kind=Kind.MESSAGE, viewer=other_staff).events
    assert (to_bo.direction, to_bo.payload["sender"]) == (
        "outbound",
        "Sam <sam@example.com>",
    )
    assert not UnknownSender.objects.exists()


def test_configured_own_domain_counts_as_ours(make_party, write_eml, monkeypatch):
    monkeypatch.setenv("THREADLINE_OWN_ADDRESSES", "@shop.example")
    jane = make_party("Jane Example", emails=["jane@example.net"])

    import_path(write_eml(sender="desk@shop.example", to="jane@example.net"))

    assert _messages(jane)[0].direction == "outbound"


def test_old_mail_is_filed_as_done_and_a_new_reply_opens_it_again(
    make_party, write_eml
):
    make_party("Jane Example", emails=["jane@example.net"])
    old = write_eml(sender="Jane <jane@example.net>", to="desk@example.com")
    reply = write_eml(
        sender="Jane <jane@example.net>",
        to="desk@example.com",
        subject="Re: Boiler service",
        message_id="<m2@example.net>",
        extra="In-Reply-To: <m1@example.net>",
        date=format_datetime(timezone.now() - dt.timedelta(hours=2)),
    )

    import_path(old)
    filed = Thread.objects.get().status
    import_path(reply)

    assert filed == "done"
    assert Thread.objects.get().status == "open"


def test_replies_share_the_thread_by_their_headers(make_party, tmp_path):
    jane = make_party("Jane Example", emails=["jane@example.net"])
    first = build_message(message_id="<a@example.net>", subject="Leaking tap")
    reply = build_message(
        sender="sales@example.com",
        to="jane@example.net",
        subject="Re: Leaking tap",
        message_id="<b@example.com>",
        date="Tue, 04 Mar 2025 11:00:00 +0000",
        extra="In-Reply-To: <a@example.net>\r\nReferences: <a@example.net>",
        body="We can come at 2pm.\r\n\r\nOn Tue, Jane wrote:\r\n> Could you come?",
    )
    other = build_message(message_id="<c@example.net>", subject="Leaking tap")
    (tmp_path / "a.eml").write_bytes(first)
    (tmp_path / "b.eml").write_bytes(reply)
    (tmp_path / "c.eml").write_bytes(other)

    for name in ("a.eml", "b.eml", "c.eml"):
        import_path(tmp_path / name)

    first_event, reply_event, other_event = _messages(jane)
    assert reply_event.thread == first_event.thread
    assert reply_event.body == "We can come at 2pm."
    assert other_event.thread != first_event.thread
    assert first_event.thread.title == "Leaking tap"


def test_a_reply_imported_before_its_parent_shares_its_thread(make_party, tmp_path):
    jane = make_party("Jane Example", emails=["jane@example.net"])
    parent = build_message(message_id="<a@example.net>", subject="Leaking tap")
    reply = build_message(
        sender="sales@example.com",
        to="jane@example.net",
        subject="Re: Leaking tap",
        message_id="<b@example.com>",
        extra="In-Reply-To: <a@example.net>",
    )
    box = b"".join(
        b"From x Tue Mar  4 09:30:00 2025\n" + message.replace(b"\r\n", b"\n")
        for message in (reply, parent)
    )
    (tmp_path / "box.mbox").write_bytes(box)

    import_path(tmp_path / "box.mbox")

    first, second = _messages(jane)
    assert first.thread == second.thread


def test_subject_joins_a_thread_only_without_reply_headers(make_party, tmp_path):
    jane = make_party("Jane Example", emails=["jane@example.net"])
    (tmp_path / "a.eml").write_bytes(
        build_message(message_id="<a@example.net>", subject="Quote for roof")
    )
    (tmp_path / "b.eml").write_bytes(
        build_message(message_id="<b@example.net>", subject="RE: AW: Quote for roof")
    )

    import_path(tmp_path / "a.eml")
    import_path(tmp_path / "b.eml")

    first, second = _messages(jane)
    assert first.thread == second.thread


def test_message_without_message_id_is_keyed_by_its_headers(make_party, write_eml):
    jane = make_party("Jane Example", emails=["jane@example.net"])
    path = write_eml(message_id="")

    import_path(path)
    import_path(path)

    [event] = _messages(jane)
    assert event.external_id.startswith("sha256:")


def test_html_body_becomes_safe_text(make_party, tmp_path):
    jane = make_party("Jane Example", emails=["jane@example.net"])
    raw = (
        "From: jane@example.net\r\nTo: sales@example.com\r\nSubject: Hi\r\n"
        "Message-ID: <h@example.net>\r\nDate: Tue, 04 Mar 2025 09:30:00 +0000\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        "<p>Hello &amp; welcome</p><script>alert(1)</script><p>Line two</p>"
        "<div class=gmail_quote>On Mon, Bob wrote:</div><blockquote>old</blockquote>"
    )
    (tmp_path / "h.eml").write_bytes(raw.encode())

    import_path(tmp_path / "h.eml")

    assert _messages(jane)[0].body == "Hello & welcome\nLine two"


def test_attachments_are_listed_by_name_type_and_size(make_party, tmp_path):
    jane = make_party("Jane Example", emails=["jane@example.net"])
    raw = (
        "From: jane@example.net\r\nTo: sales@example.com\r\nSubject: Photo\r\n"
        "Message-ID: <p@example.net>\r\nDate: Tue, 04 Mar 2025 09:30:00 +0000\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
        "--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
        'Content-Disposition: attachment; filename="tap.png"\r\n\r\n'
        "iVBORw0KGgo=\r\n--b--\r\n"
    )
    (tmp_path / "p.eml").write_bytes(raw.encode())

    import_path(tmp_path / "p.eml")

    event = _messages(jane)[0]
    assert event.payload["attachments"] == [
        {"name": "tap.png", "type": "image/png", "size": 8}
    ]
    assert event.body == "See attached."


def test_mbox_reports_each_unusable_message_by_position(make_party, tmp_path):
    jane = make_party("Jane Example", emails=["jane@example.net"])
    good = build_message(message_id="<g@example.net>")
    ours_only = build_message(
        sender="sales@example.com", to="desk@example.com", message_id="<o@x>"
    )
    no_address = b"Subject: nothing\r\n\r\nno one\r\n"
    box = b"".join(
        b"From someone Tue Mar  4 09:30:00 2025\n" + message.replace(b"\r\n", b"\n")
        for message in (good, ours_only, no_address)
    )
    (tmp_path / "box.mbox").write_bytes(box)

    report = import_path(tmp_path / "box.mbox")

    assert len(_messages(jane)) == 1
    assert report.rows == 3
    assert report.rows_used == 1
    skipped = [(p.line, p.message) for p in report.problems if p.skipped]
    assert skipped == [
        (2, "only the business's own addresses are on it; nothing to record"),
        (3, "no sender or recipient address could be read"),
    ]
    assert str(report.problems[-1]) == (
        "box.mbox message 3: no sender or recipient address could be read "
        "(message skipped)"
    )


@pytest.mark.parametrize(
    "content",
    [bytes(range(256)) * 16, b""],
    ids=["random bytes", "empty"],
)
def test_an_mbox_without_a_from_line_is_refused_as_holding_no_mail(tmp_path, content):
    path = tmp_path / "x.mbox"
    path.write_bytes(content.replace(b"From ", b"from "))

    with pytest.raises(InvalidInput) as refused:
        import_path(path)

    assert refused.value.message.startswith(
        "x.mbox holds no mail: no line starts with 'From '"
    )
    assert "Export the mailbox again as mbox" in refused.value.message
    assert not Event.objects.exists()
    assert ImportRun.objects.get().status == RunStatus.FAILED


def test_a_message_the_parser_cannot_read_is_quoted_printably(
    make_party, tmp_path, monkeypatch
):
    junk = "\x1b[31m\x00\x07" + "x" * 500

    def refuse(data: bytes, **_: object) -> None:
        raise ValueError(f"bad header {junk}")

    monkeypatch.setattr("threadline.mail.importing.parse_message", refuse)

    report = import_path(_write_mbox(tmp_path / "box.mbox", build_message()))

    [problem] = report.problems
    assert problem.message.startswith(
        "the message could not be read (bad header ?[31m?"
    )
    assert problem.message.isprintable()
    assert len(problem.message) < 150


def test_escaped_from_lines_of_an_mbox_are_unescaped_and_kept(make_party, tmp_path):
    jane = make_party("Jane Example", emails=["jane@example.net"])
    mboxo = build_message(
        message_id="<o@example.net>",
        body="Hello Helen,\n>From the start we agreed on 450 EUR.\nThanks",
    )
    mboxrd = build_message(
        message_id="<rd@example.net>",
        body="Hello Helen,\n>>From the start, she wrote.\nThanks",
    )

    import_path(_write_mbox(tmp_path / "box.mbox", mboxo, mboxrd))

    assert [event.body for event in _messages(jane)] == [
        "Hello Helen,\nFrom the start we agreed on 450 EUR.\nThanks",
        "Hello Helen,\n>From the start, she wrote.\nThanks",
    ]


def test_from_lines_of_a_single_eml_are_its_senders_text(make_party, write_eml):
    jane = make_party("Jane Example", emails=["jane@example.net"])

    import_path(write_eml(body="Hello Helen,\n>From the start: 450 EUR.\nThanks"))

    assert _messages(jane)[0].body == "Hello Helen,\n>From the start: 450 EUR.\nThanks"


def test_an_unescaped_from_line_is_reported_as_the_cut_it_made(make_party, tmp_path):
    bob = make_party("Bob Park", emails=["bob@example.org"])
    cut_short = build_message(
        sender="Bob <bob@example.org>",
        message_id="<b@example.org>",
        body="Hello,\n\nFrom Monday on I am away.\nBob",
    )
    after = build_message(sender="Bob <bob@example.org>", message_id="<c@example.org>")

    report = import_path(_write_mbox(tmp_path / "box.mbox", cut_short, after))

    assert [event.body for event in _messages(bob)] == [
        "Hello,",
        "Could you come on Tuesday?",
    ]
    assert [(p.line, p.message, p.skipped) for p in report.problems] == [
        (
            2,
            "no message headers here: message 1 probably has a line starting "
            "'From ' in its body that the mbox did not escape, so it was split "
            "there and message 1 may be cut short at that line; export the "
            "mailbox again as mboxrd or as .eml files to import it whole",
            True,
        )
    ]


def test_a_message_without_from_is_read_from_its_sender_header(make_party, tmp_path):
    jane = make_party("Jane Example", emails=["jane@example.net"])
    raw = build_message().replace(
        b"From: Jane Example <jane@example.net>", b"Sender: jane@example.net"
    )
    (tmp_path / "sender.eml").write_bytes(raw)

    import_path(tmp_path / "sender.eml")

    assert _messages(jane)[0].direction == "inbound"


def test_bad_date_falls_back_and_is_reported(make_party, write_eml):
    jane = make_party("Jane Example", emails=["jane@example.net"])
    path = write_eml(
        date="yesterday-ish",
        extra="Received: from mx by mx; Mon, 03 Mar 2025 08:00:00 +0000",
    )

    report = import_path(path)

    assert _messages(jane)[0].occurred_at.isoformat() == "2025-03-03T08:00:00+00:00"
    assert any("Date" in problem.message for problem in report.problems)


def test_import_run_is_kept_with_the_importers_actor(make_party):
    party = make_party("Jiří Příklad", emails=["jiri@example.cz"])

    report = import_path(DATA / "eml_encoded_word_subject.eml")

    run = ImportRun.objects.get()
    assert report.run == run
    assert _messages(party)[0].actor_label == run.actor_label


def test_dry_run_changes_nothing(make_party):
    party = make_party("Jiří Příklad", emails=["jiri@example.cz"])

    report = import_path(DATA / "eml_encoded_word_subject.eml", dry_run=True)

    assert report.created["email"] == 1
    assert not _messages(party)


# About 0.1 s a file; mimekit__content-length.mbox (0.9 MB, 29 large
# messages) takes 1 to 3 s, nearly all of it in the standard library's parser.
@pytest.mark.parametrize("path", corpus_files(), ids=lambda path: path.name)
def test_every_corpus_file_imports_without_a_crash(path: Path, db):
    report = import_path(path)

    assert report.rows >= 1
    assert report.rows == report.rows_used + report.skipped
    for problem in report.problems:
        assert problem.message and problem.line >= 1


def test_corpus_is_present_or_the_reason_is_said():
    if not corpus_files():
        pytest.skip(
            "the shared email corpus is not beside this clone; its files are "
            "read from there because several are GPL or unlicensed"
        )
    assert len(corpus_files()) > 100


def test_an_old_mailbox_imported_leaves_no_one_waiting_for_a_reply(
    make_party, tmp_path
):
    """Years of mail brought in at once are history: the messages land on the
    timeline, but only one sent in the last days asks for a reply."""
    old = make_party("Jane Example", emails=["jane@example.net"])
    new = make_party("Raj Sample", emails=["raj@example.net"])
    recent = format_datetime(timezone.now() - dt.timedelta(days=2))
    path = _write_mbox(
        tmp_path / "archive.mbox",
        build_message(message_id="<old@example.net>"),
        build_message(
            sender="Raj Sample <raj@example.net>",
            message_id="<new@example.net>",
            date=recent,
        ),
    )

    import_path(path)

    old.refresh_from_db()
    new.refresh_from_db()
    assert len(_messages(old)) == 1
    assert old.awaiting_reply_since is None
    assert new.awaiting_reply_since is not None
