"""threadline restore: an archived customer comes back, recorded."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from threadline.parties.merging import merge_parties
from threadline.parties.models import Party
from threadline.parties.services import restore_party
from threadline.search.services import find_one_party
from threadline.timeline.actors import Actor
from threadline.timeline.models import Event
from threadline.transfer.importer import import_path
from threadline.transfer.models import ImportRun, RunStatus
from threadline.transfer.undo import undo_import

pytestmark = pytest.mark.django_db


def restore(*args: str) -> str:
    out = StringIO()
    call_command("restore", *args, stdout=out)
    return out.getvalue()


def test_a_customer_archived_by_an_undo_is_restored(tmp_path: Path, owner) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("name,email\nKaren Lowe,karen@example.com\n", encoding="utf-8")
    run = import_path(path).run
    assert run is not None
    undo_import(run, Actor.for_user(owner))

    printed = restore("karen@example.com")

    karen = Party.objects.get(display_name="Karen Lowe")
    assert printed.startswith("Restored Karen Lowe")
    assert karen.archived_at is None
    assert find_one_party("karen@example.com") == karen
    assert Event.objects.filter(party=karen, summary__startswith="Restored: ").exists()


def test_a_current_customer_is_not_restored(make_party) -> None:
    make_party("Ann Lee", emails=["ann@example.com"])

    with pytest.raises(CommandError, match="Ann Lee is not archived"):
        restore("ann@example.com")


def test_a_merged_customer_is_sent_to_the_merge_undo(make_party) -> None:
    survivor = make_party("Ann Lee", emails=["ann@example.com"])
    other = make_party("Annabel Quist", emails=["annabel@example.com"])
    merge_parties(survivor, other, Actor.system("test"))

    with pytest.raises(CommandError, match="undo the merge"):
        restore("Annabel Quist")


def test_every_customer_an_undo_archived_comes_back_together(
    tmp_path: Path, owner, make_party
) -> None:
    kept = make_party("Ann Lee", emails=["ann@example.com"])
    path = tmp_path / "contacts.csv"
    path.write_text(
        "name,email\nKaren Lowe,karen@example.com\nBo Park,bo@example.com\n"
        "Ann Lee,ann@example.com\n",
        encoding="utf-8",
    )
    run = import_path(path).run
    assert run is not None
    undo_import(run, Actor.for_user(owner))

    printed = restore("--import", str(run.pk))

    assert printed.startswith(
        f"Restored 2 customers the undo of import #{run.pk} archived"
    )
    assert set(
        Party.objects.filter(archived_at=None).values_list("display_name", flat=True)
    ) == {"Karen Lowe", "Bo Park", "Ann Lee"}
    kept.refresh_from_db()
    assert not kept.events.filter(summary__startswith="Restored: ").exists()
    with pytest.raises(
        CommandError, match=f"No customer is archived by the undo of import #{run.pk}"
    ):
        restore("--import", str(run.pk))


def test_a_customer_and_an_import_at_once_are_refused() -> None:
    with pytest.raises(CommandError, match="Name one customer, or give --import N"):
        restore("karen@example.com", "--import", "3")
    with pytest.raises(CommandError, match="Name one customer, or give --import N"):
        restore()


def test_a_customer_restored_twice_is_restored_and_recorded_once(
    tmp_path: Path, owner
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("name,email\nKaren Lowe,karen@example.com\n", encoding="utf-8")
    run = import_path(path).run
    assert run is not None
    undo_import(run, Actor.for_user(owner))
    stale = Party.objects.get(display_name="Karen Lowe")
    actor = Actor.for_user(owner)

    first = restore_party(Party.objects.get(pk=stale.pk), actor, "first")
    second = restore_party(stale, actor, "second")

    assert (first, second) == (True, False)
    restored = Event.objects.filter(party=stale, summary__startswith="Restored: ")
    assert restored.count() == 1


def test_an_import_whose_undo_is_at_work_is_not_restored(tmp_path: Path, owner) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("name,email\nKaren Lowe,karen@example.com\n", encoding="utf-8")
    run = import_path(path).run
    assert run is not None
    undo_import(run, Actor.for_user(owner))
    ImportRun.objects.filter(pk=run.pk).update(status=RunStatus.DONE)

    with pytest.raises(CommandError, match="its undo is still at work"):
        restore("--import", str(run.pk))
    assert Party.objects.get(display_name="Karen Lowe").archived_at is not None
