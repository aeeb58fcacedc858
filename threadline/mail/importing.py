"""Importing email from .eml and .mbox files onto the customers' timelines.

An .mbox file is read one message at a time, so a mailbox of any size costs
the memory of its largest message. Every message is keyed by its
Message-ID (or, without one, by a hash of its headers), so importing the
same file again, or syncing the same mail over IMAP later, doubles nothing.
A message that cannot be used is reported with its position and the reason.

An mbox writer escapes a body line starting "From " as ">From " (and, in the
mboxrd variant, ">From " as ">>From "), so that it does not start a message;
reading one removes that ">" again. A single .eml file is not escaped: there
">From" is what its sender wrote.

A writer that does not escape (mboxo) leaves a body line starting "From "
that the standard library's reader, like most, takes for the start of the
next message. The piece after such a line carries none of a message's
headers; it is reported as the likely cut, not as a message without sender.
"""

import datetime as dt
import email.utils
import logging
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from threadline.errors import InvalidInput
from threadline.mail.parsing import ParsedMessage, parse_message
from threadline.mail.services import (
    OwnAddresses,
    earlier_writers,
    own_addresses,
    record_message,
)
from threadline.transfer.excerpts import error_text
from threadline.transfer.importer import ImportOptions
from threadline.transfer.report import ImportReport
from threadline.transfer.runs import import_actor, undone_runs
from threadline.transfer.writing import (
    LeftOut,
    SkipRow,
    import_transaction,
    write_rows,
)

logger = logging.getLogger(__name__)

# A body line the mbox writer escaped: one ">" more than the sender wrote.
ESCAPED_FROM_LINE = re.compile(rb"^>(>*From )", re.MULTILINE)
# A real message carries at least one of these; a piece of an mbox without
# any is the rest of the message before it.
MESSAGE_HEADERS = frozenset(
    {"from", "sender", "to", "cc", "date", "subject", "message-id", "received"}
)
HEADER_PARSER = BytesHeaderParser(policy=policy.compat32)


@dataclass(frozen=True)
class RawMessage:
    """One message's bytes and the date its mailbox gave it, if any."""

    position: int
    data: bytes
    received_at: dt.datetime | None = None
    # Split off the message before it at a body line starting "From ".
    continues_previous: bool = False


def import_mail(options: ImportOptions) -> ImportReport:
    """Import an .eml file or an .mbox file; return what was (or would be) done."""
    path = options.path
    report = ImportReport(
        file=path.name,
        mapping="email",
        description="email messages",
        dry_run=options.dry_run,
        unit="message",
    )
    messages, total = _open(path)

    options.progress.start(total, path.name)
    with import_transaction(options.dry_run):
        writer = MailWriter(path.name, report, own_addresses())
        rows = ((raw.position, raw) for raw in _counted(messages, report))
        write_rows(rows, writer.write, report, options.progress, file=path.name)
    report.report_undone_before()
    options.progress.finish()

    logger.info(
        "Mail import of %s: %d of %d messages used%s",
        path.name,
        report.rows_used,
        report.rows,
        " (dry run)" if options.dry_run else "",
    )
    return report


class MailWriter:
    """Records the messages of one file as its import's actor."""

    def __init__(self, file_name: str, report: ImportReport, own: OwnAddresses):
        self.file_name = file_name
        self.report = report
        self.own = own
        self.actor = import_actor(file_name)
        self.undone_runs = undone_runs()

    def write(self, raw: RawMessage) -> None:
        if raw.continues_previous:
            raise SkipRow(_continuation_problem(raw.position - 1))
        try:
            message = parse_message(raw.data, received_at=raw.received_at)
        except Exception as error:
            # The standard library's parser raises many kinds of error on
            # broken input; each one only costs this message.
            logger.warning("Message %d of %s unreadable", raw.position, self.file_name)
            reason = error_text(error)
            raise SkipRow(f"the message could not be read ({reason})") from error

        outcome = record_message(
            message, self.actor, own=self.own, origin=self.file_name
        )
        if not outcome.events and not outcome.held:
            self._leave_out_if_undone(message)
        for warning in message.warnings:
            self.report.problem(
                raw.position, warning, skipped=False, file=self.file_name
            )
        self.report.created["email"] += outcome.events
        self.report.created["email thread"] += outcome.threads
        self.report.created["held email"] += outcome.held
        self.report.created["unknown sender"] += outcome.new_senders

    def _leave_out_if_undone(self, message: ParsedMessage) -> None:
        """Leave out a message that only undone imports recorded: the undo
        removed it from the timelines, and its key keeps it so."""
        if not self.undone_runs:
            return
        writers = earlier_writers(message)
        if writers and writers <= set(self.undone_runs):
            self.report.undone_before[min(self.undone_runs[w] for w in writers)] += 1
            raise LeftOut("recorded before by an import that was undone")


def _open(path: Path) -> tuple[Iterator[RawMessage], int]:
    if not path.is_file():
        raise InvalidInput(f"There is no file at {path}; check the path.")
    if _is_mbox(path):
        box = mailbox.mbox(path, create=False)
        total = len(box)
        if not total:
            box.close()
            raise InvalidInput(
                f"{path.name} holds no mail: no line starts with 'From ', as "
                "the first line of each message in an mbox file does. Export "
                "the mailbox again as mbox (or its messages as .eml files) and "
                "import that."
            )
        return _mbox_messages(box), total
    return iter([RawMessage(1, path.read_bytes())]), 1


def _is_mbox(path: Path) -> bool:
    """An .mbox by name, or any file that starts with an mbox "From " line."""
    if path.suffix.lower() == ".eml":
        return False
    with path.open("rb") as stream:
        start = stream.read(5)
    return start == b"From " or path.suffix.lower() in {".mbox", ".mbx"}


def _mbox_messages(box: mailbox.mbox) -> Iterator[RawMessage]:
    try:
        for position, key in enumerate(box.iterkeys(), start=1):
            data = box.get_bytes(key, from_=True)
            from_line, _, message = data.partition(b"\n")
            yield RawMessage(
                position,
                _unescaped(message),
                _from_line_date(from_line),
                continues_previous=position > 1 and not _has_message_headers(message),
            )
    finally:
        box.close()


def _has_message_headers(message: bytes) -> bool:
    names = HEADER_PARSER.parsebytes(message).keys()
    return any(name.lower() in MESSAGE_HEADERS for name in names)


def _continuation_problem(previous: int) -> str:
    return (
        f"no message headers here: message {previous} probably has a line "
        "starting 'From ' in its body that the mbox did not escape, so it was "
        f"split there and message {previous} may be cut short at that line; "
        "export the mailbox again as mboxrd or as .eml files to import it whole"
    )


def _unescaped(message: bytes) -> bytes:
    """Undo the mbox's ">From " escaping, on the raw lines where it was done
    (inside a quoted-printable part too, before any MIME decoding)."""
    return ESCAPED_FROM_LINE.sub(rb"\1", message)


def _from_line_date(line: bytes) -> dt.datetime | None:
    """The date an mbox "From " line gives, read as UTC (it carries no zone)."""
    parts = line.decode("ascii", errors="replace").split(None, 2)
    if len(parts) < 3:
        return None
    try:
        value = email.utils.parsedate_to_datetime(parts[2].strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _counted(
    messages: Iterator[RawMessage], report: ImportReport
) -> Iterator[RawMessage]:
    for raw in messages:
        report.rows += 1
        yield raw
