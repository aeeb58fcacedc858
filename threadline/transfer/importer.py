"""Importing contacts from CSV into parties, contact points and organisations.

Every write goes through the parties and timeline services. A row's party
is found, in order, by the row's key from an earlier run, by a normalised
email, or by a phone with a matching name; only then is a new party created.
So a second run creates nothing, and the same person written three ways in
one file becomes one party.

A row's key is its id column, which means something only within the system
that wrote the file: ids are kept per source, the file's name unless the
user names the system with --source, and an id seen before under a clearly
different name is reported as a conflict, never merged. A row without an id
is keyed by a hash of its values, the same whatever the file is called.
"""

import datetime as dt
import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from rapidfuzz import fuzz

from threadline.accounts.models import User
from threadline.errors import InvalidInput, ThreadlineError
from threadline.parties.bulk import (
    NewParty,
    NewRelationship,
    Normalised,
    PreparedParty,
    add_relationships,
    create_parties,
    prepare_party,
)
from threadline.parties.merging import surviving_party
from threadline.parties.models import (
    ContactKind,
    ContactPoint,
    Party,
    PartyKind,
    PinnedFact,
    Relationship,
    RelationshipKind,
    Stage,
)
from threadline.parties.names import clean_text, fold
from threadline.parties.services import (
    add_contact_point,
    add_relationship,
    create_party,
    set_photo,
    set_tags,
    update_party,
)
from threadline.parties.suppression import ERASED_ROW, erased_among
from threadline.timeline.bulk import (
    EventDraft,
    NewEvent,
    prepare_draft,
    record_prepared,
)
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.timeline.services import record_event
from threadline.transfer.contacts import Contact, Point
from threadline.transfer.mapping import (
    Mapping,
    Target,
    describe_reading,
    detect_mapping,
    load_mapping,
    plan_columns,
    recognise,
)
from threadline.transfer.models import ImportRun
from threadline.transfer.progress import NoProgress, Progress
from threadline.transfer.reading import DELIMITER_NAMES, DELIMITERS, Table, open_table
from threadline.transfer.reading_ahead import built_contacts
from threadline.transfer.report import ImportReport
from threadline.transfer.runs import (
    RunProgress,
    fail_run,
    finish_run,
    import_actor,
    running,
    search_duplicates_after,
    start_run,
    undone_runs,
)
from threadline.transfer.visibility import (
    HIDDEN_MATCH,
    hidden_ids,
    importing_as,
    is_hidden,
)
from threadline.transfer.writing import (
    LeftOut,
    SkipRow,
    import_transaction,
    write_batches,
    write_one,
    write_rows,
)

logger = logging.getLogger(__name__)

ARCHIVED_ROW = (
    "not imported: the customer this row describes was archived; bring them "
    "back with `threadline restore NAME`, or remove the row from the file"
)
IDENTIFYING_FIELDS = frozenset(
    {"full_name", "given_name", "family_name", "email", "phone", "company"}
)
NOTE_SUMMARY_CHARS = 120
# The kinds a company column or a row of its own names, found by their name.
GROUP_KINDS = (PartyKind.ORGANISATION, PartyKind.HOUSEHOLD)
SOURCE_CHARS = 90
# How alike two spellings of a name must be (rapidfuzz's token sort ratio,
# 0 to 100) for an id seen before to be the same person: typos and swapped
# name order pass, another person does not.
SAME_NAME_SCORE = 90


def import_path(
    path: Path,
    *,
    mapping: str | None = None,
    dry_run: bool = False,
    encoding: str | None = None,
    progress: Progress | None = None,
    source: str | None = None,
    user: User | None = None,
    run: ImportRun | None = None,
) -> ImportReport:
    """Import a file or folder in any format Threadline reads.

    Raises InvalidInput, before anything is written, for a file or mapping
    that cannot be used, and FileChanged if the file changes while it is
    read. A real run is kept in the history of imports from its start (the
    web app passes the `run` it created for the upload); a dry run leaves
    nothing behind.
    """
    options = ImportOptions(
        path=path,
        format=detect_format(path, mapping),
        mapping=mapping,
        dry_run=dry_run,
        encoding=encoding,
        progress=progress or NoProgress(),
        source=_source(source),
    )
    if dry_run:
        with importing_as(user):
            return _import(options)

    if options.format == "archive" and run is None:
        from threadline.transfer.archive import check_restorable

        check_restorable(path)
    run = run or start_run(path.name, options.format, source=options.source, user=user)
    options.progress = RunProgress(run, options.progress)
    try:
        with running(run), importing_as(user):
            report = _import(options)
    except BaseException as error:
        refused = isinstance(error, ThreadlineError)
        fail_run(run, None, _failure_text(error), refused=refused)
        raise
    finish_run(run, report)
    report.run = run
    # New and changed parties go to the review queue if they look like others.
    report.new_duplicates = search_duplicates_after(run).new
    return report


@dataclass
class ImportOptions:
    """What the command line or the upload page asked of one import."""

    path: Path
    format: str
    mapping: str | None
    dry_run: bool
    encoding: str | None
    progress: Progress
    source: str


# Each format's importer, as "module:function"; every one takes the
# ImportOptions and returns its ImportReport.
IMPORTERS = {
    "csv": "threadline.transfer.importer:import_table",
    "xlsx": "threadline.transfer.importer:import_table",
    "dataset": "threadline.transfer.importer:import_dataset_folder",
    "vcard": "threadline.transfer.vcard:import_vcards",
    "icalendar": "threadline.transfer.ical:import_calendar",
    "email": "threadline.mail.importing:import_mail",
    "archive": "threadline.transfer.archive:restore_archive",
}
SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".vcf": "vcard",
    ".vcard": "vcard",
    ".ics": "icalendar",
    ".ical": "icalendar",
    ".ifb": "icalendar",
    ".eml": "email",
    ".mbox": "email",
}
# The first bytes of a file whose name does not tell its format.
SIGNATURES = (
    (b"PK\x03\x04", "xlsx"),
    (b"BEGIN:VCARD", "vcard"),
    (b"BEGIN:VCALENDAR", "icalendar"),
    (b"From ", "email"),
)
ARCHIVE_MANIFEST = "manifest.json"


def detect_format(path: Path, mapping: str | None = None) -> str:
    """Name the format of `path` from its kind, its suffix or its first bytes."""
    if path.is_dir():
        if (path / ARCHIVE_MANIFEST).is_file():
            return "archive"
        return "dataset"
    if not path.is_file():
        raise InvalidInput(f"There is no file at {path}; check the path.")
    if mapping and load_mapping(mapping).dataset:
        return "dataset"
    if path.suffix.lower() in SUFFIXES:
        return SUFFIXES[path.suffix.lower()]
    with path.open("rb") as stream:
        start = stream.read(64).lstrip(b"\xef\xbb\xbf \r\n\t")
    for signature, name in SIGNATURES:
        if start.upper().startswith(signature.upper()):
            return name
    return "csv"


def folder_files(path: Path, mapping: str | None = None) -> list[Path] | None:
    """The files an import of a plain folder takes one by one, in name order;
    None for an archive's folder or the data set's, which import whole."""
    from threadline.transfer import maven

    if not path.is_dir() or (path / ARCHIVE_MANIFEST).is_file():
        return None
    if mapping and load_mapping(mapping).dataset:
        return None
    try:
        maven.mapping_for_folder(path)
    except InvalidInput:
        # A link may lead out of the folder; the folder's own files only.
        return sorted(
            child
            for child in path.iterdir()
            if not child.is_symlink()
            and child.is_file()
            and child.suffix.lower() in SUFFIXES
        )
    return None


def _import(options: ImportOptions) -> ImportReport:
    module_name, function_name = IMPORTERS[options.format].split(":")
    importer = getattr(import_module(module_name), function_name)
    report: ImportReport = importer(options)
    return report


def _failure_text(error: BaseException) -> str:
    if isinstance(error, ThreadlineError):
        return error.message
    if isinstance(error, KeyboardInterrupt):
        return "Interrupted; run the import again to finish it."
    return f"{type(error).__name__}: {error}"


def import_table(options: ImportOptions) -> ImportReport:
    """Import a CSV or XLSX file of contacts, or a file of the data set."""
    chosen = load_mapping(options.mapping) if options.mapping else None
    table = open_table(options.path, options.encoding)
    if _holds_events(table, chosen):
        from threadline.transfer.events import import_events

        return import_events(
            table,
            chosen,
            dry_run=options.dry_run,
            progress=options.progress,
            source=options.source,
        )
    chosen = chosen or detect_mapping(table.header)
    if chosen is not None and chosen.dataset:
        return _import_dataset(options.path, chosen, options.dry_run, options.progress)
    return import_contacts(
        table,
        chosen,
        dry_run=options.dry_run,
        progress=options.progress,
        source=options.source,
    )


def _holds_events(table: Table, mapping: Mapping | None) -> bool:
    """Say whether the rows are interactions rather than contacts."""
    from threadline.transfer.events import is_events_file, is_events_mapping

    if mapping is not None:
        return is_events_mapping(mapping)
    return is_events_file(table.header, None)


def import_dataset_folder(options: ImportOptions) -> ImportReport:
    chosen = load_mapping(options.mapping) if options.mapping else None
    return _import_dataset(options.path, chosen, options.dry_run, options.progress)


def import_contacts(
    table: Table,
    mapping: Mapping | None,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    source: str = "",
    bulk: bool = True,
) -> ImportReport:
    """Import the rows of a contacts table; return what was (or would be) done.

    `source` names the system the file came from; it defaults to the file's
    name. `bulk` writes new people a batch at a time; without it every row
    goes through the services on its own. Both give the same record.
    """
    plan = plan_columns(table.header, mapping, table)
    report = _new_report(table, mapping, plan, dry_run)
    _require_one_delimiter(table, plan)
    _require_identifying_column(table, plan)
    _report_notices(table, report)
    shown = progress or NoProgress()

    shown.start(table.row_count, table.path.name)
    prepare = (
        partial(
            prepare_people,
            file_name=table.path.name,
            source=source_label(table.path.name, source),
        )
        if bulk
        else None
    )
    # Reading starts first, so that a child process building the rows starts
    # up while a dry run's copy of the database is made.
    with built_contacts(table, plan, prepare) as rows, import_transaction(dry_run):
        writer = ContactWriter(table.path.name, report, source)
        if bulk:
            write_batches(_counted(rows, report), writer, report, shown)
        else:
            write_rows(_counted(rows, report), writer.write, report, shown)
    writer.describe_matches()
    report.report_undone_before()
    shown.finish()

    logger.info(
        "Import of %s: %d of %d rows used%s",
        table.path.name,
        report.rows_used,
        report.rows,
        " (dry run)" if dry_run else "",
    )
    return report


class ContactWriter:
    """Writes contacts of one file, remembering its organisations."""

    def __init__(self, file_name: str, report: ImportReport, source: str = "") -> None:
        self.file_name = file_name
        self.source = source_label(file_name, source)
        self.actor = import_actor(file_name)
        self.organisations: dict[str, Party] = {}
        self.report = report
        # Rows keyed by their values match across every import, whatever the
        # file was called: the sources those imports wrote under, read once.
        self.import_sources = sorted(
            set(
                Party.objects.filter(source__startswith="import:")
                .values_list("source", flat=True)
                .distinct()
            )
            | {self.source}
        )
        # Most records never had an erasure; they pay nothing for the check.
        self.any_erased = Event.objects.filter(kind=Kind.ERASURE).exists()
        self.undone_runs = undone_runs()
        # Rows that named a person the record (or an earlier row) holds.
        self.matched = 0
        # Organisation keys of this source held already (by one an undo
        # archived), and the names whose keys were looked up.
        self.taken_org_ids: set[str] = set()
        self.looked_up_org_names: set[str] = set()

    def describe_matches(self) -> None:
        """Say in the report's description how many rows found their person,
        since what such a row adds is counted only as what is new."""
        if self.matched:
            rows = "row" if self.matched == 1 else "rows"
            self.report.description += (
                f"; {self.matched:,} {rows} matched a customer already known by "
                "id, email or phone"
            )

    def write(self, contact: Contact) -> Party:
        """Write one row's contact; return the party it describes.

        A row that fails is rolled back whole, so what it created is
        forgotten too: an organisation remembered for later rows, and its
        counts in the report.
        """
        remembered = set(self.organisations)
        counted = Counter(self.report.created)
        matched = self.matched
        try:
            return self._write(contact)
        except BaseException:
            for key in set(self.organisations) - remembered:
                del self.organisations[key]
            self.report.created.clear()
            self.report.created.update(counted)
            self.matched = matched
            raise

    def _write(self, contact: Contact) -> Party:
        if contact.is_organisation and not contact.company:
            raise SkipRow(
                f"this {contact.own_kind} row has no name; give it one in the "
                "name column"
            )
        if not contact.is_usable:
            reasons = ["no name, email, phone or company to import", *contact.warnings]
            raise SkipRow("; ".join(reasons))
        self._leave_out_if_undone(contact)

        organisation = self._organisation(contact) if contact.company else None
        if contact.is_person:
            party = self._person(contact)
            if organisation is not None:
                self._works_at(party, organisation, contact.role)
        else:
            assert organisation is not None
            party = organisation
            self._add_missing(party, contact)
        if contact.photo and not party.photo:
            set_photo(party, self.actor, contact.photo, contact.photo_type)
        self._note(party, contact)
        self._import_record(party, contact)
        for warning in contact.warnings:
            self.report.problem(contact.line, warning, skipped=False)
        return party

    def _leave_out_if_undone(self, contact: Contact) -> None:
        """Leave out a row an undone import wrote: its key still finds what
        the undo archived and redacted, so writing it again would only say
        "nothing new". Events are never deleted, so the key cannot be freed."""
        if not self.undone_runs:
            return
        by_hash = contact.key.startswith("row:")
        sources = self.import_sources if by_hash else [self.source]
        writer = (
            Event.objects.filter(
                source__in=sources, external_id=f"{contact.key}:import"
            )
            .values_list("actor_label", flat=True)
            .first()
        )
        if writer in self.undone_runs:
            self.report.undone_before[self.undone_runs[writer]] += 1
            raise LeftOut("imported before by an import that was undone")

    def forget(self) -> None:
        """Drop remembered organisations: their batch was rolled back."""
        self.organisations.clear()

    def write_batch(self, batch: list[tuple[int, Contact]]) -> None:
        """Write a batch: new people, and the works-at links to their
        organisations, in a few statements through the batch services. A row
        that names a known person, a person already in the batch or a hidden
        organisation, or that describes a company itself, goes through write
        on its own, after the rows before it, so the record is the one the
        per-row path makes."""
        contacts = [contact for _, contact in batch]
        known = self._known_marks(contacts)
        hidden = self._remember_organisations(contacts)
        unchanged = self._unchanged(batch, hidden)
        pending: list[tuple[int, Contact]] = []
        claimed: set[tuple[str, str]] = set()
        for line, contact in batch:
            if line in unchanged:
                self._pass_over(contact)
                continue
            marks = _marks(contact)
            if (
                _batchable(contact)
                and _organisation_key(contact.company) not in hidden
                and marks.isdisjoint(known)
                and marks.isdisjoint(claimed)
            ):
                pending.append((line, contact))
                claimed |= marks
                continue
            self._create_people(pending)
            # What these rows wrote is now known; nothing else changed.
            known |= claimed | marks
            pending, claimed = [], set()
            write_one(line, contact, self.write, self.report)
        self._create_people(pending)

    def _unchanged(
        self, batch: list[tuple[int, Contact]], hidden: set[str]
    ) -> set[int]:
        """The lines of the batch that would write nothing, found in a few
        queries: a row of an earlier import again, naming a known person who
        has every point, tag, employer, note and import record it gives. A
        row in any doubt is left to write, which decides it exactly."""
        if self.any_erased:
            return set()
        rows = {
            contact.key: (line, contact)
            for line, contact in batch
            if _batchable(contact)
            and contact.is_usable
            and _organisation_key(contact.company) not in hidden
        }
        parties = self._keyed_people(list(rows))
        if not parties:
            return set()

        held = _PartyHoldings.load(list(parties.values()))
        events = self._written_events(list(parties))
        lines = set()
        for key, party in parties.items():
            line, contact = rows[key]
            if events.has_all(key, contact) and self._holds(party, contact, held):
                lines.add(line)
        return lines

    def _keyed_people(self, keys: list[str]) -> dict[str, Party]:
        """The current, unrestricted person each key found, as find_person finds
        it; a key that found anyone else is left out."""
        ids = [key for key in keys if key.startswith("id:")]
        hashes = [key for key in keys if key.startswith("row:")]
        keyed = Party.objects.filter(
            Q(source=self.source, external_id__in=ids)
            | Q(source__in=self.import_sources, external_id__in=hashes)
        )
        first: dict[str, Party] = {}
        for party in keyed.order_by("id"):
            first.setdefault(party.external_id, party)
        return {
            key: party
            for key, party in first.items()
            if party.kind == PartyKind.PERSON
            and party.merged_into_id is None
            and party.archived_at is None
            and not party.restricted
        }

    def _written_events(self, keys: list[str]) -> "_WrittenEvents":
        names = [f"{key}:{part}" for key in keys for part in ("import", "note")]
        found = Event.objects.filter(
            source__in=self.import_sources, external_id__in=names
        ).values_list("source", "external_id", "actor_label", "body")
        return _WrittenEvents(self.source, set(self.undone_runs), list(found))

    def _holds(self, party: Party, contact: Contact, held: "_PartyHoldings") -> bool:
        points = held.points.get(party.pk, set())
        for kind, found in _distinct(contact).items():
            if any((kind, p.value, p.extension) not in points for p in found):
                return False
        wanted = {" ".join(tag.split()).lower()[:50] for tag in contact.tags}
        if not wanted <= held.tags.get(party.pk, set()):
            return False
        if contact.birthday and party.birthday is None:
            return False
        if _says_more_of_stage(party, contact):
            return False
        if contact.company:
            organisation = self.organisations.get(_organisation_key(contact.company))
            if organisation is None:
                return False
            if (party.pk, organisation.pk) not in held.employers:
                return False
        return not _clearly_different(party, contact)

    def _pass_over(self, contact: Contact) -> None:
        """Count a row that adds nothing as used, with its warnings."""
        for warning in contact.warnings:
            self.report.problem(contact.line, warning, skipped=False)
        self.report.rows_used += 1
        self.matched += 1

    def _remember_organisations(self, contacts: list[Contact]) -> set[str]:
        """Remember the batch's organisations that the record holds, found by
        folded name as _organisation finds each, in one query; return the
        names of those hidden from the importer, whose rows write skips."""
        names = {_organisation_key(c.company) for c in contacts if c.company}
        names -= set(self.organisations)
        if not names:
            return set()
        self._look_up_org_ids(names)

        by_name: dict[str, list[Party]] = defaultdict(list)
        named = Party.objects.filter(kind__in=GROUP_KINDS, sort_name__in=names)
        for each in named.order_by("id"):
            by_name[each.sort_name].append(each)
        current = {name: _current_of(parties) for name, parties in by_name.items()}
        found = {name: party for name, party in current.items() if party is not None}
        hidden = hidden_ids(party.pk for party in found.values() if party.restricted)
        for name, party in found.items():
            if party.pk not in hidden:
                self.organisations[name] = party
        return {name for name, party in found.items() if party.pk in hidden}

    def _known_marks(self, contacts: list[Contact]) -> set[tuple[str, str]]:
        """The keys, emails and phones of the batch that the record knows."""
        ids = [c.key for c in contacts if c.key.startswith("id:")]
        hashes = [c.key for c in contacts if c.key.startswith("row:")]
        keyed = Party.objects.filter(
            Q(source=self.source, external_id__in=ids)
            | Q(source__in=self.import_sources, external_id__in=hashes)
        )
        known = {("key", key) for key in keyed.values_list("external_id", flat=True)}
        known |= {("key", key) for key in self.erased_keys(ids + hashes)}
        for kind, values in (
            (ContactKind.EMAIL, {p.value for c in contacts for p in c.emails}),
            (ContactKind.PHONE, {p.value for c in contacts for p in c.phones}),
        ):
            points = _people_with(kind, list(values)).values_list("value", flat=True)
            known |= {(kind, value) for value in points}
            if self.any_erased:
                # An erased person's address: row by row, where find_person
                # leaves the row out.
                known |= {(kind, value) for value in erased_among(values)}
        return known

    def _create_people(self, rows: list[tuple[int, Contact]]) -> None:
        if not rows:
            return
        now = timezone.now()
        organisations: dict[str, PreparedParty | str] = {}
        prepared = [
            (line, contact, self._prepared(contact, organisations, now))
            for line, contact in rows
        ]
        valid = [
            (line, contact, person)
            for line, contact, person in prepared
            if isinstance(person, PreparedPerson)
        ]

        people = self._create_with_organisations(
            [(contact, person.party) for _, contact, person in valid], organisations
        )
        self._link_to_organisations([contact for _, contact, _ in valid], people)
        nouns, events = [], []
        for (_, contact, person), party_id in zip(valid, people, strict=True):
            for noun, draft in self._drafts_on(party_id, contact, person):
                nouns.append(noun)
                events.append(draft.on(party_id))
        for noun, created in zip(
            nouns, record_prepared(self.actor, events), strict=True
        ):
            self._count(noun, created)

        for line, contact, outcome in prepared:
            if isinstance(outcome, str):
                self.report.problem(line, outcome, skipped=True)
                continue
            assert outcome is not None
            self._count("person")
            self._count("contact point", len(outcome.party.points))
            self.report.rows_used += 1
            for warning in contact.warnings:
                self.report.problem(line, warning, skipped=False)

    def _prepared(
        self,
        contact: Contact,
        organisations: dict[str, PreparedParty | str],
        now: dt.datetime,
    ) -> "PreparedPerson | str | None":
        """The person of a row, validated, or why write would refuse the row:
        first its new organisation's fault, as write creates that first."""
        name = _organisation_key(contact.company)
        if contact.company and name not in self.organisations:
            if name not in organisations:
                organisations[name] = _prepared_or_fault(
                    _new_organisation(
                        contact.company, self._org_external_id(name), self.source
                    ),
                    now,
                )
            organisation = organisations[name]
            if isinstance(organisation, str):
                return organisation
        if contact.prepared is not None:
            return contact.prepared
        return prepare_person(contact, self.file_name, self.source, now)

    def _drafts_on(
        self, party_id: int, contact: Contact, person: "PreparedPerson"
    ) -> list[tuple[str, EventDraft]]:
        """The row's events as prepared, or prepared again for a party other
        than the one prepared (one created before with the row's key)."""
        if party_id == person.party.pk:
            return person.events
        party = Party.objects.get(pk=party_id)
        return [
            (noun, prepare_draft(event))
            for noun, event in _row_events(self.file_name, self.source, contact, party)
        ]

    def _create_with_organisations(
        self,
        valid: list[tuple[Contact, PreparedParty]],
        organisations: dict[str, PreparedParty | str],
    ) -> list[int]:
        """Create the people and the new organisations they work at, in one
        batch; remember the organisations and return the people's ids."""
        wanted = {
            _organisation_key(contact.company)
            for contact, _ in valid
            if contact.company
        }
        new = {
            name: party
            for name, party in organisations.items()
            if name in wanted and not isinstance(party, str)
        }
        created = create_parties(
            self.actor, [*new.values(), *(party for _, party in valid)]
        )

        organisation_ids = created[: len(new)]
        made = Party.objects.in_bulk(organisation_ids)
        self.organisations.update(
            (name, made[pk]) for name, pk in zip(new, organisation_ids, strict=True)
        )
        self._count("organisation", len(new))
        return created[len(new) :]

    def _link_to_organisations(
        self, contacts: list[Contact], people: list[int]
    ) -> None:
        """Link new people to the organisations their rows name, as _works_at
        does; a new person has no link yet to look for."""
        working = [
            (contact, pk)
            for contact, pk in zip(contacts, people, strict=True)
            if contact.company
        ]
        persons = Party.objects.in_bulk([pk for _, pk in working])
        links = [
            NewRelationship(
                persons[pk],
                self.organisations[_organisation_key(contact.company)],
                RelationshipKind.WORKS_AT,
                role=contact.role,
            )
            for contact, pk in working
        ]
        if links:
            add_relationships(self.actor, links)
        self._count("relationship", len(links))

    def find_person(self, contact: Contact) -> Party | None:
        """The person a row describes: by the Threadline id of a customer
        download, by its key from an earlier run, else by email, else by phone
        and name. Raises SkipRow for a key that was imported before as someone
        clearly different."""
        downloaded = _by_threadline_id(contact)
        if downloaded is not None:
            return self._downloaded(downloaded, contact)
        if self.erased_keys([contact.key]):
            raise SkipRow(ERASED_ROW)
        keyed = self._keyed(contact.key)
        known = _current(keyed)
        party = known or _matching_person(contact)
        if party is None and self.any_erased and erased_among(_values_of(contact)):
            raise SkipRow(ERASED_ROW)
        if party is not None:
            _open_to_importer(party)
        if known is not None and known.archived_at is not None:
            raise SkipRow(ARCHIVED_ROW)
        if known is not None and _named_otherwise(known, keyed, contact):
            raise SkipRow(
                f"conflict: {contact.key.removeprefix('id:')!r} was imported "
                f"before as {_named(known)}, not {contact.person_name!r}; if "
                "this file comes from another system, import it with --source NAME"
            )
        return party

    def _downloaded(self, party: Party, contact: Contact) -> Party:
        """The customer a download's row names by its Threadline id, checked:
        still open to the importer, not erased, and not someone else's row
        given this id in the spreadsheet."""
        _open_to_importer(party)
        if self.any_erased and party.events.filter(kind=Kind.ERASURE).exists():
            raise SkipRow(ERASED_ROW)
        if _clearly_different(party, contact):
            raise SkipRow(
                f"conflict: Threadline id {contact.threadline_id} belongs to "
                f"{_named(party)}, not {contact.person_name!r}; check the row's "
                "id against the download it came from"
            )
        return party

    def erased_keys(self, keys: list[str]) -> set[str]:
        """The row keys among `keys` that an earlier import wrote onto a
        person erased since, whose rows must not bring them back."""
        if not self.any_erased or not keys:
            return set()
        records = {f"{key}:import": key for key in keys}
        erasure = Event.objects.filter(party=OuterRef("party_id"), kind=Kind.ERASURE)
        imported = Event.objects.filter(
            Q(source=self.source) | Q(source__in=self.import_sources),
            kind=Kind.IMPORT,
            external_id__in=list(records),
        ).filter(Exists(erasure))
        found = imported.values_list("source", "external_id")
        return {
            records[external_id]
            for source, external_id in found
            if source == self.source or external_id.startswith("row:")
        }

    def _keyed(self, key: str) -> Party | None:
        """The party an earlier import wrote under this key, as it was."""
        sources = self.import_sources if key.startswith("row:") else [self.source]
        keyed = Party.objects.filter(source__in=sources, external_id=key)
        return keyed.order_by("id").first()

    def _person(self, contact: Contact) -> Party:
        party = self.find_person(contact)
        if party is not None:
            self._add_missing(party, contact)
            self.matched += 1
            return party

        points = _distinct(contact)
        stage: dict[str, Any] = {"stage": contact.stage} if contact.stage else {}
        if contact.birthday:
            stage["birthday"] = contact.birthday
        party = create_party(
            self.actor,
            display_name_text=contact.person_name or _fallback_name(contact),
            given_name=contact.given_name,
            family_name=contact.family_name,
            emails=[(point.raw, point.label) for point in points[ContactKind.EMAIL]],
            phones=[(point.raw, point.label) for point in points[ContactKind.PHONE]],
            addresses=[
                (point.raw, point.label) for point in points[ContactKind.ADDRESS]
            ],
            tags=contact.tags,
            source=self.source,
            external_id=contact.key,
            **stage,
        )
        self._count("person")
        self._count("contact point", sum(len(found) for found in points.values()))
        return party

    def _look_up_org_ids(self, names: set[str]) -> None:
        names = names - self.looked_up_org_names
        if not names:
            return
        wanted = [f"org:{name}" for name in names]
        held = Party.objects.filter(source=self.source, external_id__in=wanted)
        self.taken_org_ids.update(held.values_list("external_id", flat=True))
        self.looked_up_org_names |= names

    def _org_external_id(self, name: str) -> str:
        """The key a new organisation of this name is created under: its
        name's, unless one the record holds has it, found by name no more
        (archived by an undo); then the name's with the first free number,
        so the new one is not linked to the archived one."""
        self._look_up_org_ids({name})
        external_id = f"org:{name}"
        number = 1
        while external_id in self.taken_org_ids:
            number += 1
            external_id = f"org:{name}#{number}"
            held = Party.objects.filter(source=self.source, external_id=external_id)
            if held.exists():
                self.taken_org_ids.add(external_id)
        return external_id

    def _organisation(self, contact: Contact) -> Party:
        key = _organisation_key(contact.company)
        if key in self.organisations:
            return self.organisations[key]

        party = _organisation_named(key)
        if party is None and not contact.is_person:
            party = _group_with_email(contact)
        if party is not None:
            _open_to_importer(party)
        else:
            # A row with no person describes the organisation itself.
            own = _distinct(contact) if not contact.is_person else {}
            kind = PartyKind.ORGANISATION if contact.is_person else contact.own_kind
            described = not contact.is_person and contact.stage
            itself: dict[str, Any] = {"stage": contact.stage} if described else {}
            party = create_party(
                self.actor,
                kind=kind,
                display_name_text=contact.company,
                emails=[
                    (point.raw, point.label) for point in own.get(ContactKind.EMAIL, [])
                ],
                phones=[
                    (point.raw, point.label) for point in own.get(ContactKind.PHONE, [])
                ],
                addresses=[
                    (point.raw, point.label)
                    for point in own.get(ContactKind.ADDRESS, [])
                ],
                tags=contact.tags if not contact.is_person else [],
                source=self.source,
                external_id=self._org_external_id(key),
                **itself,
            )
            self._count("household" if kind == PartyKind.HOUSEHOLD else "organisation")
            self._count("contact point", sum(len(found) for found in own.values()))
        self.organisations[key] = party
        return party

    def _add_missing(self, party: Party, contact: Contact) -> None:
        """Add the row's contact points and tags the party does not have yet."""
        known = set(party.contact_points.values_list("kind", "value", "extension"))
        for kind, points in _distinct(contact).items():
            for point in points:
                if (kind, point.value, point.extension) in known:
                    continue
                add_contact_point(party, self.actor, kind, point.raw, label=point.label)
                known.add((kind, point.value, point.extension))
                self._count("contact point")

        if contact.birthday and party.birthday is None:
            update_party(party, self.actor, birthday=contact.birthday)
        if _says_more_of_stage(party, contact):
            update_party(party, self.actor, stage=contact.stage)

        current = set(party.tags.values_list("name", flat=True))
        wanted = {" ".join(tag.split()).lower()[:50] for tag in contact.tags}
        if not wanted <= current:
            set_tags(party, self.actor, current | wanted)

    def _works_at(self, person: Party, organisation: Party, role: str) -> None:
        linked = Relationship.objects.filter(
            from_party=person,
            to_party=organisation,
            kind=RelationshipKind.WORKS_AT,
            ended_on__isnull=True,
        )
        if linked.exists():
            return
        add_relationship(
            person, organisation, self.actor, RelationshipKind.WORKS_AT, role=role
        )
        self._count("relationship")

    def _note(self, party: Party, contact: Contact) -> None:
        if not contact.notes or self._noted_elsewhere(party, contact):
            return
        if _already_says(party, contact.notes):
            return
        external_id = f"{contact.key}:note"
        if Event.objects.filter(source=self.source, external_id=external_id).exists():
            # The row's note changed since it was first imported: the new
            # words are a note of their own, keyed by what they say.
            external_id = f"{external_id}:{_digest(contact.notes)}"
        self._record_once(
            "note",
            party,
            Kind.NOTE,
            _note_summary(contact.notes),
            external_id,
            body=contact.notes,
        )

    def _noted_elsewhere(self, party: Party, contact: Contact) -> bool:
        """Say whether a file of another name already gave this row's note."""
        if not contact.key.startswith("row:"):
            return False
        notes = Event.objects.filter(
            party=party, source__startswith="import:", kind=Kind.NOTE
        )
        return notes.filter(external_id=f"{contact.key}:note").exists()

    def _import_record(self, party: Party, contact: Contact) -> None:
        self._record_once(
            "import record",
            party,
            Kind.IMPORT,
            f"Imported from {self.file_name}, line {contact.line}",
            f"{contact.key}:import",
            payload={"file": self.file_name, "row": contact.line},
        )

    def _record_once(
        self,
        noun: str,
        party: Party,
        kind: str,
        summary: str,
        external_id: str,
        **fields: Any,
    ) -> None:
        _, created = record_event(
            party,
            kind,
            summary,
            actor=self.actor,
            source=self.source,
            external_id=external_id,
            **fields,
        )
        self._count(noun, created)

    def _count(self, kind: str, number: int = 1) -> None:
        self.report.created[kind] += number


def _import_dataset(
    path: Path, mapping: Mapping | None, dry_run: bool, progress: Progress | None
) -> ImportReport:
    from threadline.transfer import maven

    if mapping is None:
        mapping = maven.mapping_for_folder(path)
    if mapping.dataset != maven.DATASET:
        raise InvalidInput(
            f"The mapping {mapping.name!r} describes single files; give a CSV file."
        )
    return maven.import_dataset(path, mapping, dry_run=dry_run, progress=progress)


def _new_report(
    table: Table, mapping: Mapping | None, plan: list[Target | None], dry_run: bool
) -> ImportReport:
    return ImportReport(
        file=table.path.name,
        mapping=mapping.name if mapping else "automatic",
        description=describe_reading(table, plan),
        dry_run=dry_run,
        columns=[
            (column, str(target))
            for column, target in zip(table.header, plan, strict=True)
            if target
        ],
        ignored_columns=[
            column
            for column, target in zip(table.header, plan, strict=True)
            if target is None and column
        ],
    )


def _source(name: str | None) -> str:
    """Check a system name given with --source."""
    if name is None:
        return ""
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > SOURCE_CHARS:
        raise InvalidInput(
            f"--source needs a name of 1 to {SOURCE_CHARS} characters for the "
            "system the file came from."
        )
    return cleaned


def _report_notices(table: Table, report: ImportReport) -> None:
    """Report the lines the reading pass found: legacy text, open quotes."""
    for notice in table.notices:
        report.problem(notice.line, notice.message, skipped=notice.skipped)
    report.rows += table.skipped_rows


def _require_one_delimiter(table: Table, plan: list[Target | None]) -> None:
    """Refuse a header whose identifying columns hide behind another delimiter.

    "name;email,phone" read with commas has a column "name;email": its rows
    would make people with no name or email.
    """
    for column, target in zip(table.header, plan, strict=True):
        if target is not None:
            continue
        for other in DELIMITERS.replace(table.delimiter, ""):
            parts = [recognise(part) for part in column.split(other)]
            lost = [part for part in parts if part and part.field in IDENTIFYING_FIELDS]
            if len(parts) > 1 and lost:
                raise InvalidInput(
                    f"The header of {table.path.name} mixes delimiters: the file "
                    f"reads as {DELIMITER_NAMES[table.delimiter]}-separated, but "
                    f"its column {column!r} holds several names separated by "
                    f"{DELIMITER_NAMES[other]}s, so those columns would be lost. "
                    "Save the file with one delimiter throughout and import it "
                    "again."
                )


def _require_identifying_column(table: Table, plan: list[Target | None]) -> None:
    if any(target and target.field in IDENTIFYING_FIELDS for target in plan):
        return
    columns = ", ".join(repr(column) for column in table.header[:12])
    raise InvalidInput(
        f"None of the columns of {table.path.name} names a person or a company "
        f"(its columns: {columns}). Write a mapping for it and give it with "
        "--mapping FILE.json."
    )


@dataclass
class _PartyHoldings:
    """What a batch's known people hold, by party id."""

    points: dict[int, set[tuple[str, str, str]]]
    tags: dict[int, set[str]]
    employers: set[tuple[int, int]]

    @classmethod
    def load(cls, parties: list[Party]) -> "_PartyHoldings":
        ids = [party.pk for party in parties]
        points: dict[int, set[tuple[str, str, str]]] = defaultdict(set)
        stored = ContactPoint.objects.filter(party_id__in=ids)
        for party_id, kind, value, extension in stored.values_list(
            "party_id", "kind", "value", "extension"
        ):
            points[party_id].add((kind, value, extension))
        tags: dict[int, set[str]] = defaultdict(set)
        tagged = Party.tags.through.objects.filter(party_id__in=ids)
        for party_id, name in tagged.values_list("party_id", "tag__name"):
            tags[party_id].add(name)
        links = Relationship.objects.filter(
            from_party_id__in=ids,
            kind=RelationshipKind.WORKS_AT,
            ended_on__isnull=True,
        )
        employers = set(links.values_list("from_party_id", "to_party_id"))
        return cls(points, tags, employers)


class _WrittenEvents:
    """The import records and notes earlier imports wrote for some keys."""

    def __init__(
        self, source: str, undone: set[str], found: list[tuple[str, str, str, str]]
    ) -> None:
        self.source = source
        self.here = {
            external_id: body
            for where, external_id, _, body in found
            if where == source
        }
        # A key an undone import wrote is left out row by row, and counted.
        self.undone = {
            external_id for _, external_id, writer, _ in found if writer in undone
        }

    def has_all(self, key: str, contact: Contact) -> bool:
        """Whether the key's import record, and its note as the row words it
        now, were written; a changed note is left to the row's own write."""
        record = f"{key}:import"
        if record not in self.here or record in self.undone:
            return False
        if not contact.notes:
            return True
        return self.here.get(f"{key}:note") == clean_text(contact.notes)


def _counted(
    rows: Iterable[tuple[int, Contact]], report: ImportReport
) -> Iterator[tuple[int, Contact]]:
    """Count rows as they stream by."""
    for line, contact in rows:
        report.rows += 1
        yield line, contact


def _batchable(contact: Contact) -> bool:
    """A person with no photo or Threadline id: what the batch path creates,
    with the organisation they work at."""
    return contact.is_person and not contact.photo and contact.threadline_id is None


def _organisation_key(company: str) -> str:
    """The folded name an organisation is found and remembered by."""
    return fold(company)[:190]


def _organisation_named(key: str) -> Party | None:
    named = Party.objects.filter(kind__in=GROUP_KINDS, sort_name=key)
    return _current_of(list(named.order_by("id")))


def _current_of(parties: list[Party]) -> Party | None:
    """The organisation a name stands for among those of that name, oldest
    first: the first current one; else the one the first merged away became
    part of. One archived otherwise is not matched."""
    for party in parties:
        if party.archived_at is None:
            return party
    for party in parties:
        if party.merged_into_id:
            return surviving_party(party.public_id)
    return None


def _values_of(contact: Contact) -> list[str]:
    """The row's normalised emails and phones."""
    return [point.value for point in (*contact.emails, *contact.phones)]


def _named(party: Party) -> str:
    """A party's name for a report that others may read, unless restricted."""
    return "a restricted customer" if party.restricted else repr(party.display_name)


def _open_to_importer(party: Party) -> Party:
    """The party, if the person running the import may see it; else SkipRow,
    which names nothing of it."""
    if is_hidden(party):
        raise SkipRow(HIDDEN_MATCH)
    return party


def _by_threadline_id(contact: Contact) -> Party | None:
    """The customer a download's row came from, or the one it was merged into;
    None for an id this record does not hold, or a customer archived since."""
    if contact.threadline_id is None:
        return None
    return surviving_party(contact.threadline_id)


def _marks(contact: Contact) -> set[tuple[str, str]]:
    """What could tie a row to a party: its key, emails and phones."""
    marks = {("key", contact.key)}
    marks |= {(ContactKind.EMAIL, point.value) for point in contact.emails}
    marks |= {(ContactKind.PHONE, point.value) for point in contact.phones}
    return marks


def source_label(file_name: str, source: str = "") -> str:
    """What an import writes as its records' source: the system the file
    came from, or else the file's name."""
    return f"import:{source or file_name}"[:100]


@dataclass
class PreparedPerson:
    """The person the batch path creates for a row, with the note and import
    record it adds to them, all validated: made where the row is read."""

    party: PreparedParty
    events: list[tuple[str, EventDraft]]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return PreparedPerson, (self.party, self.events)


def prepare_person(
    contact: Contact, file_name: str, source: str, now: dt.datetime | None = None
) -> PreparedPerson | str | None:
    """The person the batch path would create for a row of the file, or why
    it would refuse the row; None for a row that write() takes on its own.

    `source` is the import's source_label. Needs nothing from the database.
    """
    if not _batchable(contact):
        return None
    prepared = _prepared_or_fault(_new_party(contact, source), now or timezone.now())
    if isinstance(prepared, str):
        return prepared
    events = _row_events(file_name, source, contact, None)
    try:
        drafts = [
            (noun, prepare_draft(event, prepared.time_zone)) for noun, event in events
        ]
    except InvalidInput as error:
        return error.message.rstrip(".")
    return PreparedPerson(prepared, drafts)


def prepare_people(contacts: list[Contact], file_name: str, source: str) -> None:
    """Set each contact's `prepared` to its prepare_person, at one moment, as
    a batch written at once is created."""
    now = timezone.now()
    for contact in contacts:
        contact.prepared = prepare_person(contact, file_name, source, now)


def _row_events(
    file_name: str, source: str, contact: Contact, party: Party | None
) -> list[tuple[str, NewEvent]]:
    """The note and import record write() adds to a new person; `party` is
    None for a person prepared but not saved yet."""
    events = []
    if contact.notes:
        events.append(
            (
                "note",
                NewEvent(
                    party,
                    Kind.NOTE,
                    _note_summary(contact.notes),
                    source=source,
                    external_id=f"{contact.key}:note",
                    body=contact.notes,
                ),
            )
        )
    events.append(
        (
            "import record",
            NewEvent(
                party,
                Kind.IMPORT,
                f"Imported from {file_name}, line {contact.line}",
                source=source,
                external_id=f"{contact.key}:import",
                payload={"file": file_name, "row": contact.line},
            ),
        )
    )
    return events


def _new_party(contact: Contact, source: str) -> NewParty:
    """The party write() would create for a new person, for the batch path."""
    points = _distinct(contact)
    fields: dict[str, Any] = {"stage": contact.stage} if contact.stage else {}
    if contact.birthday:
        fields["birthday"] = contact.birthday
    return NewParty(
        display_name_text=contact.person_name or _fallback_name(contact),
        given_name=contact.given_name,
        family_name=contact.family_name,
        emails=[_normalised(point) for point in points[ContactKind.EMAIL]],
        phones=[_normalised(point) for point in points[ContactKind.PHONE]],
        addresses=[(point.raw, point.label) for point in points[ContactKind.ADDRESS]],
        tags=contact.tags,
        source=source,
        external_id=contact.key,
        fields=fields,
    )


def _new_organisation(company: str, external_id: str, source: str) -> NewParty:
    """The organisation _organisation creates for a person's row."""
    return NewParty(
        display_name_text=company,
        source=source,
        external_id=external_id,
        fields={"kind": PartyKind.ORGANISATION},
    )


def _prepared_or_fault(new: NewParty, now: dt.datetime) -> PreparedParty | str:
    try:
        return prepare_party(new, now)
    except InvalidInput as error:
        return error.message.rstrip(".")


def _normalised(point: Point) -> Normalised:
    """A point the contact read normalised already, as the batch path takes it."""
    return Normalised(
        point.raw, point.value, point.label, point.extension, point.dialable
    )


def _matching_person(contact: Contact) -> Party | None:
    """Find the person a row describes by email, else by phone and name."""
    emails = [point.value for point in contact.emails]
    by_email = _people_with(ContactKind.EMAIL, emails).first()
    if by_email is not None:
        return by_email.party

    phones = [point.value for point in contact.phones if point.dialable]
    for point in _people_with(ContactKind.PHONE, phones):
        if same_person(point.party, contact):
            return point.party
    return None


def _people_with(kind: str, values: list[str]) -> QuerySet[ContactPoint]:
    if not values:
        return ContactPoint.objects.none()
    return (
        ContactPoint.objects.filter(
            kind=kind,
            value__in=values,
            party__kind=PartyKind.PERSON,
            party__archived_at__isnull=True,
        )
        .select_related("party")
        .order_by("id")
    )


def same_person(party: Party, contact: Contact) -> bool:
    """A shared phone is the same person only if the names agree: households
    and offices share numbers."""
    name = fold(contact.person_name)
    if not name or name == party.sort_name:
        return True
    family = fold(contact.family_name)
    if not family or family != fold(party.family_name):
        return False
    given, known = fold(contact.given_name), fold(party.given_name)
    return not given or not known or given[0] == known[0]


def _group_with_email(contact: Contact) -> Party | None:
    """The organisation or household holding an email of a row describing
    one (named otherwise in the record); warn when a person holds it."""
    emails = [point.value for point in contact.emails]
    if not emails:
        return None
    holders = Party.objects.filter(
        archived_at__isnull=True,
        contact_points__kind=ContactKind.EMAIL,
        contact_points__value__in=emails,
    ).order_by("id")
    found = list(holders.distinct()[:5])
    for party in found:
        if party.kind in GROUP_KINDS:
            return party
    if found:
        contact.warnings.append(
            f"{emails[0]} is also the email of {_named(found[0])}, a person; "
            f"this row was imported as a separate {contact.own_kind}"
        )
    return None


def _says_more_of_stage(party: Party, contact: Contact) -> bool:
    """Whether a row gives a stage where the party holds only the default one
    (as a company first named in another row's company column does)."""
    return bool(contact.stage) and contact.stage != party.stage == Stage.LEAD


def _current(keyed: Party | None) -> Party | None:
    """The party a key's row belongs to now: the one it was merged into,
    if it was merged since."""
    if keyed is not None and keyed.merged_into_id:
        return surviving_party(keyed.public_id) or keyed
    return keyed


def _named_otherwise(known: Party, keyed: Party | None, contact: Contact) -> bool:
    """Whether a row names someone else than its key found: both the party
    the key was written for and, after a merge, the one it became part of."""
    if not _clearly_different(known, contact):
        return False
    return keyed is None or keyed == known or _clearly_different(keyed, contact)


def _clearly_different(party: Party, contact: Contact) -> bool:
    """Say whether a row names someone else than the party its id found.

    A shared email or phone, or a name that agrees (or is missing), keeps
    them one person; so does a spelling close enough to be a typo.
    """
    name = fold(contact.person_name)
    if not name or not party.sort_name or same_person(party, contact):
        return False
    points = [point.value for point in (*contact.emails, *contact.phones)]
    if party.contact_points.filter(value__in=points).exists():
        return False
    # Both have an email and none is shared, and the names differ: the id
    # belongs to someone else in another system.
    if contact.emails and party.contact_points.filter(kind=ContactKind.EMAIL).exists():
        return True
    return fuzz.token_sort_ratio(name, party.sort_name) < SAME_NAME_SCORE


def _distinct(contact: Contact) -> dict[str, list[Point]]:
    found: dict[str, list[Point]] = {}
    for kind, points in (
        (ContactKind.EMAIL, contact.emails),
        (ContactKind.PHONE, contact.phones),
        (ContactKind.ADDRESS, contact.addresses),
    ):
        unique: dict[tuple[str, str], Point] = {}
        for point in points:
            unique.setdefault((point.value, point.extension), point)
        found[kind] = list(unique.values())
    return found


def _fallback_name(contact: Contact) -> str:
    """Name a person with no name by their email, else their phone."""
    for point in (*contact.emails, *contact.phones):
        return point.raw
    return contact.company


def _already_says(party: Party, notes: str) -> bool:
    """Say whether a party holds a row's note already: every line of it as a
    pinned fact (a download carries the pinned facts as its notes), or the
    whole as a note's text. A note with any line that is new is kept whole."""
    text = clean_text(notes)
    lines = {line.strip() for line in text.splitlines() if line.strip()}
    facts = PinnedFact.objects.filter(party=party, unpinned_at__isnull=True)
    pinned = {
        line.strip()
        for fact in facts.values_list("text", flat=True)
        for line in fact.splitlines()
    }
    if lines <= pinned:
        return True
    return party.events.filter(kind=Kind.NOTE, body=text).exists()


def _digest(text: str) -> str:
    return hashlib.sha256(clean_text(text).encode()).hexdigest()[:16]


def _note_summary(notes: str) -> str:
    first = notes.strip().splitlines()[0].strip() if notes.strip() else ""
    if len(first) > NOTE_SUMMARY_CHARS or "\n" in notes.strip():
        return first[:NOTE_SUMMARY_CHARS].rstrip() + "…"
    return first
