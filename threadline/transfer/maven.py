"""Importing the Maven Analytics CRM sales data set.

Its four files become organisations (accounts.csv), staff users who cannot
sign in (sales_teams.csv: agents as staff, their managers as managers), and
one deal thread per opportunity (sales_pipeline.csv) with a quote that was
accepted or declined when the deal was won or lost. The data's known
misspellings are corrected by the shipped mapping, not in code.
"""

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from threadline.accounts.models import Role, User
from threadline.accounts.services import create_user, deactivate_user
from threadline.errors import InvalidInput
from threadline.parties.models import Party, PartyKind, Stage
from threadline.parties.names import fold
from threadline.parties.services import create_party
from threadline.threads.models import Thread, ThreadKind, ThreadStatus
from threadline.threads.services import open_thread, update_thread
from threadline.timeline.kinds import Kind
from threadline.timeline.services import record_event
from threadline.transfer.mapping import Mapping, shipped_mappings
from threadline.transfer.progress import NoProgress, Progress
from threadline.transfer.reading import Table, open_table
from threadline.transfer.report import ImportReport
from threadline.transfer.runs import import_actor
from threadline.transfer.writing import SkipRow, import_transaction, write_rows

logger = logging.getLogger(__name__)

DATASET = "maven-crm"
REQUIRED_COLUMNS = {
    "accounts": ("account", "sector", "year_established", "revenue", "employees"),
    "products": ("product", "series", "sales_price"),
    "teams": ("sales_agent", "manager", "regional_office"),
    "pipeline": (
        "opportunity_id",
        "sales_agent",
        "product",
        "account",
        "deal_stage",
        "engage_date",
        "close_date",
        "close_value",
    ),
}
# Dates without a time are placed at noon UTC, so that they show on the same
# calendar day in every time zone from UTC-11 to UTC+11.
DAY_TIME = dt.time(12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Record:
    """One row of a data set file, by column name, with its line."""

    line: int
    values: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "")


@dataclass(frozen=True)
class Product:
    name: str
    series: str
    price: Decimal


def mapping_for_folder(path: Path) -> Mapping:
    """Return the data set's mapping if the folder holds all its files."""
    mapping = shipped_mappings()[DATASET]
    folder = path if path.is_dir() else path.parent
    files = mapping.options["files"]
    missing = [name for name in files.values() if not (folder / name).is_file()]
    if missing and path.is_dir():
        raise InvalidInput(
            f"{path} is a folder. Threadline imports a folder only when it holds "
            f"the Maven CRM sales data set, and this one lacks {', '.join(missing)}."
        )
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        # The name alone: an uploaded file's folder is the server's business.
        raise InvalidInput(
            f"{path.name} is one file of the Maven CRM sales data set, which "
            f"imports whole, and {', '.join(missing)} {verb} not beside it. Put "
            f"{', '.join(sorted(files.values()))} in one folder and import the "
            "folder from the command line: threadline import FOLDER."
        )
    return mapping


def import_dataset(
    path: Path,
    mapping: Mapping,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import the data set in `path` (its folder, or any of its files)."""
    folder = path if path.is_dir() else path.parent
    mapping_for_folder(path)
    tables = {
        role: open_table(folder / name)
        for role, name in mapping.options["files"].items()
    }
    _require_columns(tables)
    report = ImportReport(
        file=f"{folder.name}/",
        mapping=mapping.name,
        description=", ".join(
            f"{table.path.name} ({table.row_count:,} rows)" for table in tables.values()
        ),
        dry_run=dry_run,
    )
    _report_notices(tables, report)
    shown = progress or NoProgress()

    shown.start(sum(table.row_count for table in tables.values()), folder.name)
    with import_transaction(dry_run):
        DataSetImport(folder.name, tables, mapping.options, report).run(shown)
    shown.finish()

    logger.info(
        "Import of the %s data set: %d of %d rows used%s",
        DATASET,
        report.rows_used,
        report.rows,
        " (dry run)" if dry_run else "",
    )
    return report


class DataSetImport:
    """One run over the four files, in the order their references need."""

    def __init__(
        self,
        folder: str,
        tables: dict[str, Table],
        options: dict[str, Any],
        report: ImportReport,
    ) -> None:
        self.tables = tables
        self.options = options
        self.report = report
        self.actor = import_actor(folder)
        self.source = {
            role: f"import:{DATASET}/{table.path.name}"[:100]
            for role, table in tables.items()
        }
        self.users: dict[str, User] = {}
        self.accounts: dict[str, Party] = {}
        self.products: dict[str, Product] = {}
        self.threads: dict[str, Thread] = {}
        self.current_file = ""

    def run(self, progress: Progress) -> None:
        self._load_products(progress)
        won = self._accounts_with_won_deals()
        self._write("teams", self._team_row, progress)
        self._write("accounts", lambda record: self._account(record, won), progress)
        self.threads = {
            thread.external_id: thread
            for thread in Thread.objects.filter(source=self.source["pipeline"])
        }
        self._write("pipeline", self._deal, progress)

    def _write(
        self, role: str, write: Callable[[Record], None], progress: Progress
    ) -> None:
        table = self.tables[role]
        self.current_file = table.path.name
        self.report.rows += table.row_count
        write_rows(_records(table), write, self.report, progress, file=table.path.name)

    def _load_products(self, progress: Progress) -> None:
        self.current_file = self.tables["products"].path.name
        for _, record in _records(self.tables["products"]):
            try:
                price = Decimal(record["sales_price"])
            except InvalidOperation:
                self._problem(record.line, "the price is not a number", skipped=True)
                continue
            name = record["product"]
            self.products[name] = Product(name, record["series"], price)
            self.report.rows_used += 1
        self.report.rows += self.tables["products"].row_count
        progress.advance(self.tables["products"].row_count)

    def _accounts_with_won_deals(self) -> set[str]:
        won = {
            stage
            for stage, status in self.options["deal_status"].items()
            if status == ThreadStatus.WON
        }
        return {
            record["account"]
            for _, record in _records(self.tables["pipeline"])
            if record["deal_stage"] in won
        }

    def _team_row(self, record: Record) -> None:
        manager = record["manager"]
        if manager and manager not in self.users:
            self.users[manager] = self._staff(manager, Role.MANAGER)
        self.users[record["sales_agent"]] = self._staff(
            record["sales_agent"], Role.STAFF
        )

    def _staff(self, name: str, role: str) -> User:
        """Find or add a user for a salesperson; they cannot sign in."""
        if not name:
            raise SkipRow("the salesperson has no name")
        email = f"{_slug(name)}@{self.options['staff_email_domain']}"
        user = User.objects.filter(email=email).first()
        if user is not None:
            return user
        user = create_user(email, None, role=role, name=name)
        deactivate_user(user, self.actor)
        self.report.created["user"] += 1
        return user

    def _account(self, record: Record, won: set[str]) -> None:
        name = record["account"]
        if not name:
            raise SkipRow("the account has no name")
        party = _organisation_named(name)
        if party is None:
            sector = self.corrected("sector", record["sector"])
            party = create_party(
                self.actor,
                kind=PartyKind.ORGANISATION,
                display_name_text=name,
                stage=Stage.CUSTOMER if name in won else Stage.PROSPECT,
                tags=[sector] if sector else [],
                source=self.source["accounts"],
                external_id=f"account:{fold(name)}"[:200],
            )
            self.report.created["organisation"] += 1
        self.accounts[name] = party
        self._profile_note(party, record)

    def _profile_note(self, party: Party, record: Record) -> None:
        facts = _account_facts(record, self)
        _, created = record_event(
            party,
            Kind.NOTE,
            "Company profile: " + "; ".join(facts[:3]),
            actor=self.actor,
            body="\n".join(facts),
            source=self.source["accounts"],
            external_id=f"account:{fold(record['account'])}:profile"[:300],
        )
        self.report.created["note"] += created

    def _deal(self, record: Record) -> None:
        deal_id = record["opportunity_id"]
        party = self._deal_party(record)
        status = self.options["deal_status"].get(record["deal_stage"])
        if not deal_id:
            raise SkipRow("the deal has no opportunity_id")
        if status is None:
            known = ", ".join(self.options["deal_status"])
            raise SkipRow(f"deal stage {record['deal_stage']!r} is not one of {known}")

        thread = self.threads.get(deal_id)
        if thread is not None and thread.status == status:
            return
        if thread is None:
            thread = self._open_deal(record, party)
        if status != ThreadStatus.OPEN:
            self._close_deal(record, party, thread, status)

    def _deal_party(self, record: Record) -> Party:
        name = record["account"]
        if not name:
            raise SkipRow("no account: a deal needs the customer it belongs to")
        party = self.accounts.get(name)
        if party is None:
            raise SkipRow(f"account {name!r} is not in accounts.csv")
        return party

    def _open_deal(self, record: Record, party: Party) -> Thread:
        product = self._product(record["product"])
        if product is None and record["product"]:
            self._problem(
                record.line, f"product {record['product']!r} is not in products.csv"
            )
        agent = record["sales_agent"]
        owner = self.users.get(agent)
        if agent and owner is None:
            self._problem(
                record.line, f"sales agent {agent!r} is not in sales_teams.csv"
            )
        thread = open_thread(
            party,
            self.actor,
            ThreadKind.DEAL,
            f"{product.name if product else record['product']} for {party}",
            owner=owner,
            opened_at=_day(record["engage_date"]),
            source=self.source["pipeline"],
            external_id=record["opportunity_id"],
        )
        self.report.created["thread"] += 1
        return thread

    def _close_deal(
        self, record: Record, party: Party, thread: Thread, status: str
    ) -> None:
        closed_at = _day(record["close_date"])
        update_thread(thread, self.actor, status=status, occurred_at=closed_at)
        self.report.created["status change"] += 1

        amount, summary = self._quote_terms(record, status)
        _, created = record_event(
            party,
            Kind.QUOTE,
            summary,
            actor=self.actor,
            occurred_at=closed_at,
            thread=thread,
            payload={
                "amount": amount,
                "currency": self.options["currency"],
                "reference": record["opportunity_id"],
                "status": self.options["quote_status"][status],
            },
            source=self.source["pipeline"],
            external_id=f"{record['opportunity_id']}:quote",
        )
        self.report.created["quote"] += created

    def _quote_terms(self, record: Record, status: str) -> tuple[Decimal, str]:
        """The quoted amount: the deal's value, or for a lost deal (whose value
        the data set leaves at 0) the product's list price."""
        product = self._product(record["product"])
        name = product.name if product else record["product"]
        currency = self.options["currency"]
        value = _decimal(record["close_value"], "close_value")
        if status == ThreadStatus.WON or product is None or value > 0:
            return value, f"Quote for {name}: {currency} {value:,} accepted"
        return (
            product.price,
            f"Quote for {name} at list price {currency} {product.price:,} declined",
        )

    def _product(self, name: str) -> Product | None:
        return self.products.get(self.corrected("product", name))

    def corrected(self, kind: str, value: str) -> str:
        return self.options.get(f"{kind}_spelling", {}).get(value, value)

    def _problem(self, line: int, message: str, *, skipped: bool = False) -> None:
        """Note a problem found in the file whose rows are being written."""
        self.report.problem(line, message, skipped=skipped, file=self.current_file)


def _records(table: Table) -> Iterator[tuple[int, Record]]:
    header = [column.strip() for column in table.header]
    for line, cells in table.rows():
        values = dict(zip(header, (cell.strip() for cell in cells), strict=False))
        yield line, Record(line, values)


def _report_notices(tables: dict[str, Table], report: ImportReport) -> None:
    """Report the lines the reading pass found: legacy text, open quotes."""
    for table in tables.values():
        for notice in table.notices:
            report.problem(
                notice.line,
                notice.message,
                skipped=notice.skipped,
                file=table.path.name,
            )


def _require_columns(tables: dict[str, Table]) -> None:
    for role, columns in REQUIRED_COLUMNS.items():
        missing = [name for name in columns if name not in tables[role].header]
        if missing:
            raise InvalidInput(
                f"{tables[role].path.name} lacks the column(s) {', '.join(missing)}."
            )


def _organisation_named(name: str) -> Party | None:
    return (
        Party.objects.filter(kind=PartyKind.ORGANISATION, sort_name=fold(name)[:300])
        .order_by("id")
        .first()
    )


def _account_facts(record: Record, run: DataSetImport) -> list[str]:
    facts = []
    sector = run.corrected("sector", record["sector"])
    if sector:
        facts.append(f"Sector: {sector}")
    if record["year_established"]:
        facts.append(f"Founded {record['year_established']}")
    if record["employees"]:
        facts.append(f"{_decimal(record['employees'], 'employees'):,} employees")
    if record["revenue"]:
        revenue = _decimal(record["revenue"], "revenue")
        facts.append(f"Annual revenue {run.options['currency']} {revenue:,} million")
    country = run.corrected("country", record["office_location"])
    if country:
        facts.append(f"Headquarters: {country}")
    if record["subsidiary_of"]:
        facts.append(f"Subsidiary of {record['subsidiary_of']}")
    return facts or ["No details in accounts.csv"]


def _day(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as error:
        raise SkipRow(f"{text!r} is not a date (YYYY-MM-DD)") from error
    return dt.datetime.combine(day, DAY_TIME)


def _decimal(text: str, column: str) -> Decimal:
    try:
        return Decimal(text or "0")
    except InvalidOperation as error:
        raise SkipRow(f"{column} {text!r} is not a number") from error


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", ".", fold(name)).strip(".") or "agent"
