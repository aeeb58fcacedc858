"""Data-protection requests: export everything about a person, erase it."""

import datetime as dt
import io
import json
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from tests.mail.conftest import build_message
from threadline.accounts.models import User
from threadline.brief.rendering import brief_as_text
from threadline.brief.services import compute_brief
from threadline.errors import InvalidInput, NotAllowed
from threadline.followups.models import FollowUp
from threadline.followups.services import create_follow_up
from threadline.mail.models import HeldMessage, MessageLink, SenderStatus, UnknownSender
from threadline.mail.parsing import parse_message
from threadline.mail.services import (
    add_sender_to_party,
    ignore_sender,
    record_message,
)
from threadline.parties.duplicates import find_duplicates
from threadline.parties.merging import merge_parties
from threadline.parties.models import (
    CandidateStatus,
    Consent,
    ContactKind,
    DuplicateCandidate,
    FactCategory,
    Party,
    PartyKind,
    Relationship,
    RelationshipKind,
)
from threadline.parties.privacy import (
    ERASED,
    erase_person,
    erased_name,
    export_person,
    gather_traces,
    write_person_export,
)
from threadline.parties.services import (
    add_contact_point,
    add_relationship,
    archive_party,
    create_party,
    pin_fact,
    update_party,
)
from threadline.search.models import SearchTerm
from threadline.search.services import search_parties
from threadline.threads.models import Thread
from threadline.threads.services import open_thread
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.timeline.services import correct_event, record_event
from threadline.transfer.archive import export_archive
from threadline.transfer.importer import import_path
from threadline.transfer.models import ImportRun
from threadline.transfer.runs import start_run
from threadline.transfer.uploads import imports_dir, run_folder

# Everything personal the record below holds about Jane, as it could show up
# in a database row: names, contact points in every stored form, free text.
PERSONAL = [
    "Jane",
    "Émile",
    "emile",
    "jane.emile@example.com",
    "4155550134",
    "415 555 0134",
    "Lark Lane",
    "1980-05-17",
    "mornings",
    "Spaniel",
    "combi",
]


@pytest.fixture
def jane(owner: User, staff: User) -> Party:
    """A person with something personal in every part of the record."""
    actor = Actor.for_user(owner)
    party = create_party(
        actor,
        given_name="Jane",
        family_name="Émile",
        emails=["Jane.Emile@example.com"],
        phones=["+1 415 555 0134"],
        addresses=["7 Lark Lane, Springfield"],
        tags=["spaniel owner"],
        owner=staff,
        birthday=dt.date(1980, 5, 17),
        contact_hours="mornings only",
    )
    Party.objects.filter(pk=party.pk).update(
        photo=b"\x89PNG....", photo_type="image/png"
    )
    party.refresh_from_db()
    update_party(party, actor, given_name="Janey")
    pin_fact(party, actor, "Spaniel in the garden", FactCategory.PREFERENCE)
    thread = open_thread(party, actor, "quote", "Combi boiler for Jane")
    call, _ = record_event(
        party,
        Kind.CALL,
        "Jane asked about a combi",
        actor=actor,
        payload={"direction": "inbound"},
        body="Call Jane on 415 555 0134 in the mornings",
        thread=thread,
    )
    correct_event(call, actor=actor, summary="Jane asked about a combi boiler")
    record_event(
        party,
        Kind.MESSAGE,
        "Email from Jane",
        actor=actor,
        payload={"direction": "inbound", "subject": "Combi at 7 Lark Lane"},
    )
    record_event(
        party,
        Kind.BOOKING,
        "Survey",
        actor=actor,
        payload={"site": "7 Lark Lane", "starts_at": "2026-01-05T09:00:00+00:00"},
    )
    record_event(
        party,
        Kind.QUOTE,
        "Quote for Jane",
        actor=actor,
        payload={"amount": "450.00", "currency": "EUR"},
    )
    create_follow_up(
        party, actor, "Ring Jane back", timezone.now() + dt.timedelta(days=1), staff
    )
    return party


@dataclass
class Elsewhere:
    """What the record holds about Jane outside her own rows, and what it
    holds about others there, which must stay."""

    others_pair: DuplicateCandidate
    bob: UnknownSender
    carol: UnknownSender
    run: ImportRun
    problems_of_others: list[str]


def _mail(**fields: str) -> None:
    record_message(parse_message(build_message(**fields)), Actor.system("mail"))


@pytest.fixture
def elsewhere(
    jane: Party,
    owner: User,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_party,
) -> Elsewhere:
    """Jane in duplicate pairs, mail triage and import runs, beside others."""
    monkeypatch.setenv("THREADLINE_OWN_ADDRESSES", "sales@business.example")
    actor = Actor.for_user(owner)
    # A copy of her found as a duplicate and merged in: the pair is kept,
    # its reasons quoting her email.
    copy = make_party("Jane Emile", emails=["jane.emile@example.com"])
    find_duplicates()
    merge_parties(jane, copy, actor)
    # Two others alike, never reviewed.
    make_party("Carla Other", phones=["+1 212 555 0199"])
    make_party("Carla Othre", phones=["+1 212 555 0199"])
    find_duplicates()
    others_pair = DuplicateCandidate.objects.exclude(
        status=CandidateStatus.MERGED
    ).get()

    # Written to her and an unknown Bob: the message is on her timeline and
    # kept for Bob, with her address and name.
    _mail(
        sender="Sales <sales@business.example>",
        to="=?utf-8?q?Jane_=C3=89mile?= <jane.emile@example.com>, "
        "Bob Unknown <bob@elsewhere.example>",
        subject="Combi at 7 Lark Lane",
        body="Jane, we will ring you on 415 555 0134.",
        message_id="<m1@business.example>",
    )
    _mail(
        sender="Bob Unknown <bob@elsewhere.example>",
        to="sales@business.example",
        subject="Radiator for the office",
        message_id="<m2@elsewhere.example>",
        date="Wed, 05 Mar 2025 09:30:00 +0000",
    )
    _mail(
        sender="Carol Unknown <carol@elsewhere.example>",
        to="sales@business.example",
        subject="Gutter cleaning",
        message_id="<m3@elsewhere.example>",
    )
    # Her work address waited in triage and was added to her; her home
    # address waited, and was then typed on her record by hand.
    _mail(
        sender="Jane Emile <j.emile@work.example>",
        to="sales@business.example",
        subject="From the office",
        message_id="<m4@work.example>",
    )
    work = UnknownSender.objects.get(address="j.emile@work.example")
    add_sender_to_party(work, jane, actor)
    _mail(
        sender="Jane E <jane@emile-family.example>",
        to="sales@business.example",
        subject="Weekend visit",
        message_id="<m5@emile-family.example>",
    )
    add_contact_point(jane, actor, ContactKind.EMAIL, "jane@emile-family.example")
    # An address no record holds, under her name, was ignored.
    _mail(
        sender="=?utf-8?q?Jane_=C3=89mile?= <je.private@mail.example>",
        to="sales@business.example",
        subject="Hello",
        message_id="<m6@mail.example>",
    )
    ignore_sender(UnknownSender.objects.get(address="je.private@mail.example"), actor)

    # An import of her row with a bad birthday, beside Bob's with a bad phone.
    people = tmp_path / "people.csv"
    people.write_text(
        "name,email,phone,birthday\n"
        "Jane Émile,jane.emile@example.com,,17/05/80 or so\n"
        "Bob Builder,bob.builder@example.org,not a phone,\n",
        encoding="utf-8",
    )
    import_path(people)
    # A run whose problems and error quote her, written as they were read.
    run = start_run("clinic.csv", "csv")
    run.problems = [
        {
            "file": "",
            "line": 7,
            "message": "jane.emile@example.com is already on Janey Émile; left out",
            "skipped": True,
        },
        {
            "file": "",
            "line": 8,
            "message": "'(415) 555-0134' is already someone's phone",
            "skipped": False,
        },
        {"file": "", "line": 9, "message": "'31/02' is not a date", "skipped": True},
    ]
    run.error = "Stopped at line 12: Jane Emile has two rows"
    run.save()
    return Elsewhere(
        others_pair=others_pair,
        bob=UnknownSender.objects.get(address="bob@elsewhere.example"),
        carol=UnknownSender.objects.get(address="carol@elsewhere.example"),
        run=run,
        problems_of_others=[
            "'not a phone' is not a phone number, left out",
            "'31/02' is not a date",
        ],
    )


@pytest.fixture
def acme(owner: User, jane: Party) -> Party:
    actor = Actor.for_user(owner)
    company = create_party(
        actor, kind=PartyKind.ORGANISATION, display_name_text="Rosewood Plumbing"
    )
    add_relationship(jane, company, actor, RelationshipKind.WORKS_AT, role="Buyer")
    return company


def test_export_holds_every_part_of_the_record(
    jane: Party, acme: Party, owner: User
) -> None:
    document = export_person(jane, Actor.for_user(owner))

    assert set(document["about"]) >= {"person", "events", "follow_ups"}
    assert document["person"]["given_name"] == "Janey"
    assert document["person"]["birthday"] == dt.date(1980, 5, 17)
    assert document["person"]["photo_base64"]
    kinds = {point["kind"] for point in document["contact_points"]}
    assert kinds == {"email", "phone", "address"}
    assert document["relationships"][0]["other_party"] == "Rosewood Plumbing"
    assert document["pinned_facts"][0]["text"] == "Spaniel in the garden"
    assert document["tags"] == ["spaniel owner"]
    assert document["threads"][0]["title"] == "Combi boiler for Jane"
    assert document["follow_ups"][0]["summary"] == "Ring Jane back"
    events = document["events"]
    assert len(events) == Event.objects.filter(party=jane).count()
    superseded = [event for event in events if event["superseded"]]
    assert [event["summary"] for event in superseded] == ["Jane asked about a combi"]


def test_export_is_readable_json(jane: Party, owner: User) -> None:
    stream = StringIO()

    write_person_export(jane, Actor.for_user(owner), stream)

    document = json.loads(stream.getvalue())
    assert document["person"]["family_name"] == "Émile"
    assert "\n  " in stream.getvalue()


@pytest.mark.parametrize("who", ["staff", "viewer"])
def test_only_owners_and_managers_answer_requests(
    jane: Party, who: str, request: pytest.FixtureRequest
) -> None:
    actor = Actor.for_user(request.getfixturevalue(who))

    with pytest.raises(NotAllowed):
        export_person(jane, actor)
    with pytest.raises(NotAllowed):
        erase_person(jane, actor, "Asked by email")

    assert Party.objects.get(pk=jane.pk).given_name == "Janey"


def _database_text(folder: Path) -> str:
    """Every row of every table, as the archive writes them, lower-cased."""
    export_archive(folder)
    return "\n".join(
        path.read_text(encoding="utf-8").lower() for path in folder.iterdir()
    )


def test_erasure_leaves_nothing_personal_in_the_database(
    jane: Party, acme: Party, elsewhere: Elsewhere, manager: User, tmp_path: Path
) -> None:
    before = _database_text(tmp_path / "before")
    # The record below does hold her everywhere the erasure must reach.
    assert "same email jane.emile@example.com" in before
    assert HeldMessage.objects.filter(sender=elsewhere.bob).count() == 2
    assert UnknownSender.objects.filter(address__contains="emile").count() == 2
    assert UnknownSender.objects.filter(name="Jane Émile").exists()
    assert "17/05/80" in before and "janey émile" in before

    counts = erase_person(jane, Actor.for_user(manager), "Asked by email on 3 March")

    text = _database_text(tmp_path / "archive")
    found = [word for word in PERSONAL if word.lower() in text]
    assert found == []
    assert "17/05/80" not in text
    assert counts["duplicate_pairs"] == 1
    assert counts["unknown_senders"] == 2 and counts["held_messages"] == 2
    assert counts["import_problems"] == 4
    # Other customers' and senders' rows stay as they were.
    pair = DuplicateCandidate.objects.get()
    assert pair.pk == elsewhere.others_pair.pk
    assert pair.reasons == elsewhere.others_pair.reasons
    assert pair.reasons == ["same phone +1 212-555-0199"]
    bob = UnknownSender.objects.get(pk=elsewhere.bob.pk)
    assert (bob.name, bob.status, bob.message_count) == (
        "Bob Unknown",
        SenderStatus.WAITING,
        1,
    )
    assert bob.latest_subject == "Radiator for the office"
    assert HeldMessage.objects.get(sender=bob).message["subject"] == bob.latest_subject
    carol = UnknownSender.objects.get(pk=elsewhere.carol.pk)
    assert carol.message_count == 1 and carol.messages.count() == 1
    ignored = UnknownSender.objects.get(address="je.private@mail.example")
    assert (ignored.status, ignored.name) == (SenderStatus.IGNORED, "")
    assert set(UnknownSender.objects.all()) == {bob, carol, ignored}
    kept = [
        problem["message"]
        for run in ImportRun.objects.all()
        for problem in run.problems
        if problem["message"] != ERASED
    ]
    assert sorted(kept) == sorted(elsewhere.problems_of_others)
    run = ImportRun.objects.get(pk=elsewhere.run.pk)
    assert run.error == ERASED
    assert [problem["line"] for problem in run.problems] == [7, 8, 9]
    # Her email entries and threads stay, erased, with nothing to find them by.
    mail = Event.objects.filter(party=jane, source="email")
    assert set(mail.values_list("kind", "summary", "external_id")) == {
        (Kind.MESSAGE, ERASED, "")
    }
    assert mail.count() == 2
    assert set(MessageLink.objects.values_list("subject_key", flat=True)) == {""}
    assert MessageLink.objects.filter(thread__party=jane).count() == 2


def test_what_names_her_elsewhere_goes_with_the_erasure_or_not_at_all(
    jane: Party,
    elsewhere: Elsewhere,
    manager: User,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks,
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    pairs = list(DuplicateCandidate.objects.values_list("pk", "reasons"))
    senders = list(UnknownSender.objects.values_list("pk", "address", "name"))
    held = HeldMessage.objects.count()
    problems = list(ImportRun.objects.values_list("pk", "problems", "error"))
    monkeypatch.setattr("threadline.parties.privacy.record_event", fail)

    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
    ):
        erase_person(jane, Actor.for_user(manager), "Asked by email on 3 March")

    assert callbacks == []
    assert list(DuplicateCandidate.objects.values_list("pk", "reasons")) == pairs
    assert list(UnknownSender.objects.values_list("pk", "address", "name")) == senders
    assert HeldMessage.objects.count() == held
    assert list(ImportRun.objects.values_list("pk", "problems", "error")) == problems
    assert Party.objects.get(pk=jane.pk).given_name == "Janey"


def _kept(folder: Path, name: str, content: bytes) -> Path:
    folder.mkdir(parents=True)
    (folder / name).write_bytes(content)
    (folder / "upload.json").write_text(json.dumps({"file": name}))
    return folder


def test_erasure_removes_kept_import_files_that_hold_her(
    jane: Party,
    elsewhere: Elsewhere,
    manager: User,
    settings,
    tmp_path: Path,
    django_capture_on_commit_callbacks,
) -> None:
    settings.DATA_DIR = tmp_path / "data"
    uploads = imports_dir() / "uploads"
    # The run that imported her row, started from the upload page.
    people = ImportRun.objects.get(file="people.csv")
    imported = _kept(run_folder(people), "people.csv", b"name\nSomeone\n")
    # An upload never imported: a vCard whose EMAIL line is folded.
    card = _kept(
        uploads / ("a" * 32),
        "phone.vcf",
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:J. E.\r\n"
        b"EMAIL:jane.emile@exam\r\n ple.com\r\nEND:VCARD\r\n",
    )
    # A workbook holding her phone as a number, in a run that stopped early.
    workbook = openpyxl.Workbook()
    workbook.active.append(["Name", "Mobile"])
    workbook.active.append(["J. E.", 4155550134])
    stream = io.BytesIO()
    workbook.save(stream)
    stopped = _kept(run_folder(elsewhere.run), "clinic.xlsx", stream.getvalue())
    others = _kept(
        uploads / ("b" * 32),
        "others.csv",
        "name,phone\nBob Builder,+1 212 555 0199\nJanet Emilia,\n".encode("cp1252"),
    )

    with django_capture_on_commit_callbacks(execute=True):
        erase_person(jane, Actor.for_user(manager), "Asked by email on 3 March")

    assert not imported.exists() and not card.exists() and not stopped.exists()
    assert others.exists() and (others / "others.csv").exists()
    assert sorted(path.name for path in uploads.iterdir()) == ["b" * 32]


def test_her_traces_are_what_tells_her_apart(
    jane: Party, owner: User, make_party
) -> None:
    actor = Actor.for_user(owner)
    add_contact_point(jane, actor, ContactKind.PHONE, "+1 415 555 0188")
    make_party("Bob Émile", phones=["+1 415 555 0188"])
    make_party("Janey Émile", emails=["janey@elsewhere.example"])

    traces = gather_traces([jane])

    # Her names now and before; the household phone and a namesake's name
    # would name others too.
    assert traces.names == {"jane emile", "emile jane", "emile janey"}
    assert traces.phones == {"+14155550134"}
    assert traces.emails == {"jane.emile@example.com"}
    for text in (
        "call +1 (415) 555-0134",
        "call 001-415-555-0134 or so",
        "mobile 4155550134",
        "JANE.EMILE@EXAMPLE.COM wrote",
        "<jane.emile@example.com>.",
        "'Jane  Émile' has two rows",
        "7 Lark Lane, Springfield",
    ):
        assert traces.found_in(text), text
    for text in (
        "call 41555501345",
        "xjane.emile@example.com",
        "jane.emile@example.com.au",
        "Janey Émile",
        "Jane alone",
        "+1 415 555 0188",
    ):
        assert not traces.found_in(text), text


def test_erasure_reaches_records_merged_into_the_person(
    jane: Party, owner: User, tmp_path: Path
) -> None:
    actor = Actor.for_user(owner)
    copy = create_party(
        actor, display_name_text="Jane Emile", emails=["jane.emile@example.com"]
    )
    merge_parties(jane, copy, actor)

    counts = erase_person(jane, actor, "Asked by email on 3 March")

    assert counts["merged_records"] == 1
    assert Party.objects.get(pk=copy.pk).display_name == erased_name(copy)
    export_archive(tmp_path / "archive")
    text = "\n".join(
        path.read_text(encoding="utf-8").lower()
        for path in (tmp_path / "archive").iterdir()
    )
    assert [word for word in PERSONAL if word.lower() in text] == []


def test_erasure_keeps_a_shell_and_other_records(
    jane: Party, acme: Party, manager: User
) -> None:
    events_before = Event.objects.filter(party=jane).count()
    acme_events = Event.objects.filter(party=acme).count()

    erase_person(jane, Actor.for_user(manager), "Asked by email on 3 March")

    shell = Party.objects.get(pk=jane.pk)
    assert (
        shell.display_name
        == erased_name(jane)
        == f"Erased person {jane.public_id.hex[-8:]}"
    )
    assert shell.given_name == shell.family_name == ""
    assert shell.birthday is None and shell.photo is None
    assert shell.consent == Consent.DENIED
    assert not shell.contact_points.exists()
    assert not shell.tags.exists()
    assert not SearchTerm.objects.filter(party=shell).exists()
    assert Event.objects.filter(party=jane).count() == events_before + 1
    assert set(
        Event.objects.filter(party=jane)
        .exclude(kind=Kind.ERASURE)
        .values_list("summary", flat=True)
    ) == {ERASED}
    fact = shell.pinned_facts.get()
    assert fact.text == ERASED and fact.unpinned_at is not None
    assert Thread.objects.get(party=jane).title == ERASED
    assert FollowUp.objects.get(party=jane).summary == ERASED
    # Other customers keep their entries and links, naming the shell.
    assert Event.objects.filter(party=acme).count() == acme_events
    link = Relationship.objects.get(to_party=acme)
    assert link.from_party_id == jane.pk and link.role == "Buyer"
    linked = Event.objects.filter(party=acme, summary__startswith="Linked").get()
    assert erased_name(jane) in linked.summary
    assert Party.objects.get(pk=acme.pk).display_name == "Rosewood Plumbing"


def test_the_erasure_is_recorded_without_personal_data(
    jane: Party, manager: User
) -> None:
    counts = erase_person(jane, Actor.for_user(manager), "Asked by email, 3 March")

    erasure = Event.objects.get(party=jane, kind=Kind.ERASURE)
    suppressed = erasure.payload.pop("suppressed")
    assert erasure.payload == {"reason": "Asked by email, 3 March", "erased": counts}
    assert erasure.actor_user == manager
    assert counts["contact_points"] == 3 and counts["pinned_facts"] == 1
    # Her email and phone stay recognisable, not readable.
    assert len(suppressed) == 2 and all(len(digest) == 64 for digest in suppressed)
    recorded = json.dumps(erasure.payload) + json.dumps(suppressed) + erasure.summary
    assert "Jane" not in recorded and "@" not in recorded and "+1" not in recorded


def test_amounts_and_choices_survive_erasure(jane: Party, owner: User) -> None:
    erase_person(jane, Actor.for_user(owner), "Asked in person")

    quote = Event.objects.get(party=jane, kind=Kind.QUOTE)
    assert quote.payload["amount"] == "450.00" and quote.payload["currency"] == "EUR"
    message = Event.objects.get(party=jane, kind=Kind.MESSAGE)
    assert message.payload["subject"] == ERASED
    assert message.payload["direction"] == "inbound"
    assert message.payload["channel"] == "email"
    booking = Event.objects.get(party=jane, kind=Kind.BOOKING)
    assert booking.payload["site"] == ERASED
    assert booking.payload["starts_at"] == "2026-01-05T09:00:00Z"


def test_the_brief_as_of_before_the_erasure_shows_it_erased(
    jane: Party, owner: User
) -> None:
    before = timezone.now()
    erase_person(jane, Actor.for_user(owner), "Asked in person")

    text = brief_as_text(compute_brief(jane, as_of=before)).lower()

    assert [word for word in PERSONAL if word.lower() in text] == []


def test_an_erased_person_cannot_be_found_or_erased_again(
    jane: Party, owner: User
) -> None:
    erase_person(jane, Actor.for_user(owner), "Asked in person")

    assert not search_parties(owner, "Jane").exists()
    with pytest.raises(InvalidInput, match="was erased on"):
        erase_person(jane, Actor.for_user(owner), "Asked again")


def test_erasure_refuses_an_organisation_and_an_empty_reason(
    acme: Party, jane: Party, owner: User
) -> None:
    with pytest.raises(InvalidInput, match="Only a person"):
        erase_person(acme, Actor.for_user(owner), "Asked")
    with pytest.raises(InvalidInput, match="reason"):
        erase_person(jane, Actor.for_user(owner), "   ")

    assert not Event.objects.filter(kind=Kind.ERASURE).exists()


def test_person_command_exports_to_a_new_file(
    jane: Party, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "jane.json"

    call_command("person", "export", "jane.emile@example.com", "--out", str(out))

    assert json.loads(out.read_text())["person"]["given_name"] == "Janey"
    assert str(out) in capsys.readouterr().out
    with pytest.raises(CommandError, match="exists already"):
        call_command("person", "export", "jane.emile@example.com", "--out", str(out))


def test_person_command_marks_archived_namesakes_among_the_candidates(
    make_party, owner: User, tmp_path: Path
) -> None:
    current = make_party("Robert Brown")
    archived = make_party("Robert Brown")
    archive_party(archived, Actor.for_user(owner), "import #3 undone")

    with pytest.raises(CommandError) as refused:
        call_command("person", "export", "Robert Brown", "--out", str(tmp_path / "r"))

    message = str(refused.value)
    assert f"(id {current.public_id.hex[-8:]})" in message
    assert f"(id {archived.public_id.hex[-8:]}, archived)" in message


def test_person_command_erases_with_yes(
    jane: Party, manager: User, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command(
        "person",
        "erase",
        "+1 415 555 0134",
        "--reason",
        "Letter of 3 March",
        "--yes",
        "--as",
        manager.email,
    )

    assert "Erased Janey Émile, now shown as Erased person" in capsys.readouterr().out
    erasure = Event.objects.get(party=jane, kind=Kind.ERASURE)
    assert erasure.actor_user == manager


def test_person_command_asks_before_erasing(
    jane: Party, monkeypatch: pytest.MonkeyPatch, staff: User
) -> None:
    monkeypatch.setattr("sys.stdin", StringIO(""))

    with pytest.raises(CommandError, match="add --yes"):
        call_command("person", "erase", "Janey Émile", "--reason", "Asked")
    with pytest.raises(CommandError, match="Only owners and managers"):
        call_command(
            "person", "erase", "Janey", "--reason", "x", "--yes", "--as", staff.email
        )

    assert not Event.objects.filter(kind=Kind.ERASURE).exists()


def test_erasure_renames_only_the_mention_that_is_the_person(
    make_party, manager: User
) -> None:
    actor = Actor.for_user(manager)
    ed = make_party("Ed")
    edward = make_party("Edward Edmunds")
    supplies = make_party("Edinburgh Ed Supplies", kind=PartyKind.ORGANISATION)
    add_relationship(edward, ed, actor, RelationshipKind.REFERRED_BY)
    add_relationship(ed, supplies, actor, RelationshipKind.WORKS_AT)
    add_relationship(edward, supplies, actor, RelationshipKind.WORKS_AT)

    erase_person(ed, actor, "Asked by phone")

    shell = erased_name(ed)
    linked = Event.objects.filter(summary__startswith="Linked: ")
    summaries = {(e.party_id, e.summary) for e in linked.exclude(party=ed)}
    assert summaries == {
        (edward.pk, f"Linked: Edward Edmunds referred by {shell}"),
        (supplies.pk, f"Linked: {shell} works at Edinburgh Ed Supplies"),
        (edward.pk, "Linked: Edward Edmunds works at Edinburgh Ed Supplies"),
        (supplies.pk, "Linked: Edward Edmunds works at Edinburgh Ed Supplies"),
    }
