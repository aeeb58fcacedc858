"""The whole-database archive: export, restore into an empty install, and
refusals that change nothing."""

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from tests.mail.conftest import build_message
from threadline.accounts.models import Role, User
from threadline.accounts.services import create_team, set_team_members
from threadline.errors import InvalidInput
from threadline.followups.services import create_follow_up
from threadline.mail.models import HeldMessage, Mailbox, MessageLink, UnknownSender
from threadline.mail.parsing import parse_message
from threadline.mail.services import OwnAddresses, record_message
from threadline.parties.duplicates import find_duplicates
from threadline.parties.merging import merge_parties
from threadline.parties.models import (
    CandidateStatus,
    DuplicateCandidate,
    FactCategory,
    Party,
    PartyKind,
    RelationshipKind,
)
from threadline.parties.privacy import erase_person
from threadline.parties.services import (
    add_relationship,
    create_party,
    pin_fact,
    restrict_party,
    set_tags,
)
from threadline.search.models import SearchTerm
from threadline.search.services import find_one_party
from threadline.threads.services import open_thread
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.timeline.services import correct_event, record_event, redact_event
from threadline.transfer import archive
from threadline.transfer.importer import import_path
from threadline.transfer.models import ImportRun, RunStatus

PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def build_record(owner: User, staff: User) -> dict[str, Any]:
    """A small record touching every table an archive holds."""
    actor = Actor.for_user(owner)
    olivia = Actor.for_user(owner)
    jane = create_party(
        actor,
        given_name="Jane",
        family_name="Émile-Example",
        emails=["jane@example.com"],
        phones=["+1 415 555 0134"],
        addresses=["1 High Street, Springfield"],
        tags=["vip", "boiler"],
        stage="customer",
        owner=staff,
        birthday=dt.date(1980, 5, 17),
    )
    Party.objects.filter(pk=jane.pk).update(photo=PHOTO, photo_type="image/png")
    acme = create_party(
        actor, kind=PartyKind.ORGANISATION, display_name_text="Acme Heating Ltd"
    )
    home = create_party(
        actor, kind=PartyKind.HOUSEHOLD, display_name_text="The Example household"
    )
    secret = create_party(actor, display_name_text="Quiet Client")
    add_relationship(jane, acme, actor, RelationshipKind.WORKS_AT, role="Buyer")
    add_relationship(jane, home, actor, RelationshipKind.HOUSEHOLD)
    pin_fact(jane, actor, "Dog in the garden: ring first", FactCategory.PREFERENCE)
    set_tags(acme, actor, ["commercial"])

    thread = open_thread(jane, actor, "quote", "New boiler", next_step="Send quote")
    call, _ = record_event(
        jane,
        Kind.CALL,
        "Asked about a new boiler",
        actor=actor,
        payload={"direction": "inbound", "duration_minutes": 5},
        body="Wants a combi.\nPrefers mornings.",
        thread=thread,
    )
    correct_event(call, actor=actor, summary="Asked about a new combi boiler")
    note, _ = record_event(jane, Kind.NOTE, "Typo note", actor=actor)
    redact_event(note, actor=actor, reason="Wrong customer")
    record_event(
        jane,
        Kind.QUOTE,
        "Quote sent",
        actor=actor,
        payload={"amount": "4500.10", "currency": "EUR", "status": "sent"},
        thread=thread,
        source="test",
        external_id="Q-1",
    )
    create_follow_up(
        jane, actor, "Call back about the quote", timezone.now(), staff, thread=thread
    )

    team = create_team("Office", olivia)
    set_team_members(team, [staff], olivia)
    restrict_party(secret, olivia, restricted=True, users=[staff], teams=[team])
    ImportRun.objects.create(
        file="contacts.csv",
        format="csv",
        mapping="automatic",
        actor_label="import #1 of contacts.csv",
        started_at=timezone.now(),
        created={"person": 1},
    )
    build_mail()
    build_duplicates(actor)
    return {"jane": jane, "acme": acme, "secret": secret}


def build_mail() -> None:
    """An imported message on Jane's timeline, a synced mailbox, and an
    unknown sender whose message waits in triage."""
    own = OwnAddresses(frozenset({"sales@example.com"}), frozenset())
    importer = Actor.importer("import of mail.mbox")
    for sender, message_id in (
        ("Jane Example <jane@example.com>", "<m1@example.com>"),
        ("Jiří Příklad <jiri@example.cz>", "<m2@example.cz>"),
    ):
        raw = build_message(sender=sender, message_id=message_id)
        record_message(parse_message(raw), importer, own=own, origin="mail.mbox")
    Mailbox.objects.create(
        name="main",
        host="imap.example.com",
        username="sales@example.com",
        uid_validity=7,
        last_uid=42,
        last_attempt_at=timezone.now(),
        last_success_at=timezone.now(),
        messages_skipped=1,
    )


def build_duplicates(actor: Actor) -> None:
    """An open duplicate pair, and another pair merged."""
    for name, email in (
        ("Robert Sample", "rob@example.org"),
        ("Robert Sample", "robert@example.org"),
        ("Ann Lee", "ann@example.org"),
        ("Ann Lee", "ann.lee@example.org"),
    ):
        create_party(actor, display_name_text=name, emails=[email])
    find_duplicates()
    ann, other_ann = Party.objects.filter(display_name="Ann Lee").order_by("pk")
    merge_parties(ann, other_ann, actor)


@pytest.fixture
def record(owner: User, staff: User) -> dict[str, Any]:
    return build_record(owner, staff)


def empty_database() -> None:
    """Flush every table, as a fresh install is empty.

    Pending foreign-key checks fire first: PostgreSQL refuses to truncate a
    table with checks still pending in the test's transaction.
    """
    connection.check_constraints()
    call_command("flush", interactive=False, verbosity=0)


def read_lines(folder: Path, name: str) -> list[str]:
    return (folder / name).read_text(encoding="utf-8").splitlines()


def test_round_trip_restores_an_identical_database(
    record: dict[str, Any], tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    archive.export_archive(first)
    empty_database()
    assert not Party.objects.exists()

    report = import_path(first)
    connection.check_constraints()
    archive.export_archive(second)

    before = json.loads((first / "manifest.json").read_text())
    after = json.loads((second / "manifest.json").read_text())
    filled = {entry["model"] for entry in before["files"] if entry["rows"]}
    assert filled >= {
        "mail.mailbox",
        "mail.unknownsender",
        "mail.heldmessage",
        "mail.messagelink",
        "parties.duplicatecandidate",
    }
    runs = "transfer.importrun.jsonl"
    for entry in before["files"]:
        if entry["file"] != runs:
            assert (first / entry["file"]).read_bytes() == (
                second / entry["file"]
            ).read_bytes(), entry["file"]
    # The restore is itself recorded as an import run, after the archive's.
    restored_runs = read_lines(second, runs)
    assert restored_runs[:-1] == read_lines(first, runs)
    assert len(restored_runs) == 2
    assert json.loads(restored_runs[-1])["fields"]["format"] == "archive"
    for manifest in (before, after):
        del manifest["created_at"]
        manifest["files"] = [e for e in manifest["files"] if e["file"] != runs]
    assert before == after
    assert report.run is not None and report.run.status == RunStatus.DONE
    assert report.created["event"] == Event.objects.count()


def test_restore_keeps_ids_times_and_bytes_and_rebuilds_search(
    record: dict[str, Any], owner: User, tmp_path: Path
) -> None:
    jane = Party.objects.get(pk=record["jane"].pk)
    events = list(Event.objects.order_by("pk").values_list("pk", "recorded_at"))
    archive.export_archive(tmp_path / "a")
    empty_database()

    import_path(tmp_path / "a")

    restored = Party.objects.get(public_id=jane.public_id)
    assert restored.pk == jane.pk
    assert restored.updated_at == jane.updated_at
    assert restored.created_at == jane.created_at
    assert bytes(restored.photo) == PHOTO
    assert list(Event.objects.order_by("pk").values_list("pk", "recorded_at")) == (
        events
    )
    assert SearchTerm.objects.filter(party=restored).exists()
    assert find_one_party("jane@example.com") == restored
    # Sequences point past the restored ids, so new rows take new ids.
    newcomer = create_party(Actor.system("test"), display_name_text="New Person")
    assert newcomer.pk > max(
        Party.objects.exclude(pk=newcomer.pk).values_list("pk", flat=True)
    )
    secret = Party.objects.get(pk=record["secret"].pk)
    assert secret.restricted
    assert secret.allowed_users.count() == 2 and secret.allowed_teams.count() == 1
    olivia = User.objects.get(email=owner.email)
    assert olivia.role == Role.OWNER and olivia.password == owner.password


def test_restore_keeps_mail_triage_duplicate_pairs_and_merges(
    record: dict[str, Any], tmp_path: Path
) -> None:
    archive.export_archive(tmp_path / "a")
    empty_database()

    import_path(tmp_path / "a")

    message = Event.objects.get(party=record["jane"], kind=Kind.MESSAGE)
    assert message.thread is not None and message.thread.title == "Boiler service"
    assert MessageLink.objects.get().thread == message.thread
    jiri = UnknownSender.objects.get()
    assert (jiri.address, jiri.message_count) == ("jiri@example.cz", 1)
    held = HeldMessage.objects.get(sender=jiri)
    assert held.message["subject"] == "Boiler service"
    mailbox = Mailbox.objects.get()
    assert (mailbox.uid_validity, mailbox.last_uid) == (7, 42)
    statuses = dict(
        DuplicateCandidate.objects.values_list("first__display_name", "status")
    )
    assert statuses == {
        "Robert Sample": CandidateStatus.OPEN,
        "Ann Lee": CandidateStatus.MERGED,
    }
    ann, other_ann = Party.objects.filter(display_name="Ann Lee").order_by("pk")
    assert other_ann.merged_into == ann and other_ann.archived_at is not None
    assert Event.objects.filter(party=ann, kind=Kind.MERGE).exists()
    assert find_one_party("ann.lee@example.org") == ann


def test_manifest_counts_every_file_and_names_what_is_rebuilt(
    record: dict[str, Any], tmp_path: Path
) -> None:
    manifest = archive.export_archive(tmp_path / "a")

    listed = {entry["file"]: entry["rows"] for entry in manifest["files"]}
    on_disk = {p.name for p in (tmp_path / "a").iterdir()} - {"manifest.json"}
    assert set(listed) == on_disk
    for name, rows in listed.items():
        assert len(read_lines(tmp_path / "a", name)) == rows
    assert listed["parties.party.jsonl"] == Party.objects.count()
    assert listed["parties.party_tags.jsonl"] == 3
    assert "search.searchterm.jsonl" not in listed
    assert "search.searchterm" in manifest["rebuilt_on_restore"]
    assert manifest["migrations"]["parties"][0] == "0001_initial"
    order = [entry["model"] for entry in manifest["files"]]
    assert order.index("accounts.user") < order.index("parties.party")
    assert order.index("parties.party") < order.index("timeline.event")


def test_export_is_raw_with_no_formula_escaping(owner: User, tmp_path: Path) -> None:
    create_party(Actor.for_user(owner), display_name_text="=SUM(A1:A2)")

    archive.export_archive(tmp_path / "a")

    parties = read_lines(tmp_path / "a", "parties.party.jsonl")
    assert json.loads(parties[0])["fields"]["display_name"] == "=SUM(A1:A2)"


def test_export_refuses_a_folder_that_is_not_empty(owner: User, tmp_path: Path) -> None:
    target = tmp_path / "backup"
    target.mkdir()
    (target / "notes.txt").write_text("mine")

    with pytest.raises(CommandError, match="is not empty"):
        call_command("export", str(target), format="jsonl")

    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["backup"]


def test_an_interrupted_export_leaves_nothing_that_looks_whole(
    record: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = []
    real = archive._write_table

    def fail_on_third(*args: Any) -> Any:
        if len(written) == 2:
            raise KeyboardInterrupt
        written.append(args[0])
        return real(*args)

    monkeypatch.setattr(archive, "_write_table", fail_on_third)

    with pytest.raises(KeyboardInterrupt):
        archive.export_archive(tmp_path / "a")

    assert list(tmp_path.iterdir()) == []


def test_export_command_writes_into_an_empty_folder(
    record: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").mkdir()

    call_command("export", str(tmp_path / "a"), format="jsonl")

    assert "Exported" in capsys.readouterr().out
    assert (tmp_path / "a" / "manifest.json").is_file()


def test_restore_refuses_a_database_that_holds_a_record(
    record: dict[str, Any], tmp_path: Path
) -> None:
    archive.export_archive(tmp_path / "a")
    parties = Party.objects.count()

    runs = ImportRun.objects.count()

    with pytest.raises(InvalidInput, match="already holds .*parties"):
        import_path(tmp_path / "a")

    assert Party.objects.count() == parties
    # Refused before it started: not even a failed run is left behind.
    assert ImportRun.objects.count() == runs


def test_a_damaged_line_restores_nothing_and_a_repaired_archive_then_restores(
    record: dict[str, Any], tmp_path: Path
) -> None:
    archive.export_archive(tmp_path / "a")
    archived_runs = read_lines(tmp_path / "a", "transfer.importrun.jsonl")
    empty_database()
    events = tmp_path / "a" / "timeline.event.jsonl"
    intact = events.read_text()
    lines = intact.splitlines()
    lines[3] = lines[3].replace('"occurred_at": "', '"occurred_at": "not a time')
    events.write_text("\n".join(lines) + "\n")

    with pytest.raises(InvalidInput, match="timeline.event.jsonl line 4"):
        import_path(tmp_path / "a")

    assert not Party.objects.exists()
    assert not User.objects.exists()
    failed = ImportRun.objects.get()
    assert failed.status == RunStatus.FAILED and "line 4" in failed.error

    events.write_text(intact)
    import_path(tmp_path / "a")

    restored = ImportRun.objects.order_by("pk")
    assert [run.file for run in restored] == ["contacts.csv", "a", "a"]
    assert restored[0].pk == json.loads(archived_runs[0])["pk"]
    assert [run.status for run in restored[1:]] == [RunStatus.FAILED, RunStatus.DONE]


def point_a_contact_at_a_missing_party(folder: Path) -> int:
    """Make the archive's files disagree, as one mixed from two exports;
    return the changed row's id."""
    points = folder / "parties.contactpoint.jsonl"
    lines = points.read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[0])
    row["fields"]["party"] = 999999
    lines[0] = json.dumps(row)
    points.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return int(row["pk"])


def test_a_row_pointing_outside_the_archive_is_refused_by_file_and_row(
    record: dict[str, Any], tmp_path: Path
) -> None:
    archive.export_archive(tmp_path / "a")
    empty_database()
    pk = point_a_contact_at_a_missing_party(tmp_path / "a")

    with pytest.raises(InvalidInput) as refused:
        import_path(tmp_path / "a")

    message = refused.value.message
    assert "The archive's files do not agree" in message
    assert f"contactpoint.jsonl has a row (pk {pk}) whose party is 999999" in message
    assert "parties.party.jsonl does not hold" in message
    assert "export the database again" in message
    assert not Party.objects.exists()
    assert not User.objects.exists()
    failed = ImportRun.objects.get()
    assert failed.status == RunStatus.FAILED and failed.error == message


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("checked_before_commit", [True, False])
def test_a_restore_whose_files_disagree_is_recorded_as_failed_not_interrupted(
    record: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    checked_before_commit: bool,
) -> None:
    """The database checks foreign keys at the commit; should a row slip past
    the restore's own check, the commit's refusal still reaches the run."""
    archive.export_archive(tmp_path / "a")
    empty_database()
    point_a_contact_at_a_missing_party(tmp_path / "a")
    if not checked_before_commit:
        monkeypatch.setattr(archive, "_require_every_link_held", lambda _: None)

    with pytest.raises(CommandError, match="The archive's files do not agree") as error:
        call_command("import", str(tmp_path / "a"))

    assert "Nothing was imported" in str(error.value)
    assert not Party.objects.exists()
    failed = ImportRun.objects.get()
    assert failed.status == RunStatus.FAILED
    assert failed.error.startswith("The archive's files do not agree")


def test_dry_run_checks_every_line_and_the_counts(
    record: dict[str, Any], tmp_path: Path
) -> None:
    archive.export_archive(tmp_path / "a")
    tags = tmp_path / "a" / "parties.tag.jsonl"
    tag_line = read_lines(tmp_path / "a", "parties.tag.jsonl")[0]
    tags.write_text(tags.read_text() + "{not json\n")
    facts = tmp_path / "a" / "parties.pinnedfact.jsonl"
    facts.write_text(tag_line + "\n" + facts.read_text())

    report = import_path(tmp_path / "a", dry_run=True)

    problems = [str(problem) for problem in report.problems]
    assert any("parties.tag.jsonl line 4: cannot be read" in p for p in problems)
    assert any("parties.tag.jsonl" in p and "manifest counts 3" in p for p in problems)
    assert any(
        "parties.pinnedfact.jsonl line 1: holds a parties.tag row" in p
        for p in problems
    )
    # The database holds the record the archive was made from.
    assert any("already holds" in p for p in problems)
    assert ImportRun.objects.count() == 1
    # What a restore would create is counted from the lines that read.
    assert report.created["person"] == Party.objects.filter(kind="person").count()
    assert report.created["event"] == Event.objects.count()


def test_restore_refuses_an_archive_from_other_migrations(
    owner: User, tmp_path: Path
) -> None:
    archive.export_archive(tmp_path / "a")
    path = tmp_path / "a" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["migrations"]["parties"].append("0099_from_the_future")
    path.write_text(json.dumps(manifest))

    with pytest.raises(InvalidInput, match="parties 0099_from_the_future only in"):
        import_path(tmp_path / "a", dry_run=True)


def test_restore_into_an_install_never_migrated_says_to_migrate(
    owner: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive.export_archive(tmp_path / "a")
    monkeypatch.setattr(archive, "applied_migrations", dict)

    with pytest.raises(InvalidInput, match="Run `threadline migrate` first"):
        import_path(tmp_path / "a", dry_run=True)


def test_a_folder_without_a_manifest_is_not_read_as_an_archive(
    tmp_path: Path, db: None
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "manifest.json").write_text('{"format": "something else"}')

    with pytest.raises(InvalidInput, match="does not describe a Threadline archive"):
        import_path(tmp_path / "a", dry_run=True)


def test_text_no_utf8_file_can_hold_is_archived_escaped_and_restored(
    db: None, tmp_path: Path
) -> None:
    """A mail header that decoded to a lone surrogate before such headers
    were read as UTF-8 or Windows-1252 still sits in some JSON columns."""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL's jsonb refuses a lone surrogate: no such row")
    build_mail()
    held = HeldMessage.objects.order_by("pk").first()
    assert held is not None
    held.message = {**held.message, "subject": "J\udcfcrgen"}
    held.save(update_fields=["message"])
    folder = tmp_path / "archive"

    archive.export_archive(folder)
    empty_database()
    import_path(folder)

    restored = HeldMessage.objects.get(pk=held.pk)
    assert restored.message["subject"] == "J\udcfcrgen"
    assert "\\udcfc" in (folder / "mail.heldmessage.jsonl").read_text("utf-8")


def test_an_erased_person_stays_unsearchable_after_a_restore(
    record: dict[str, Any], tmp_path: Path
) -> None:
    secret = Party.objects.get(pk=record["secret"].pk)
    erase_person(secret, Actor.system("data request"), "Asked by email")
    terms = set(SearchTerm.objects.values_list("party_id", "term"))
    archive.export_archive(tmp_path / "a")
    empty_database()

    import_path(tmp_path / "a")

    assert not SearchTerm.objects.filter(party_id=secret.pk).exists()
    assert set(SearchTerm.objects.values_list("party_id", "term")) == terms
