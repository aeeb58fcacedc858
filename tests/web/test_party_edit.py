from collections.abc import Callable

from django.test import Client
from django.urls import reverse

from threadline.accounts.models import User
from threadline.parties.models import Party
from threadline.parties.services import restrict_party
from threadline.timeline.actors import Actor
from threadline.timeline.models import Event


def _form(party: Party, **overrides: str) -> dict[str, str]:
    return {
        "kind": party.kind,
        "given_name": party.given_name,
        "family_name": party.family_name,
        "display_name": party.display_name,
        "stage": party.stage,
        "owner": str(party.owner_id or ""),
        "preferred_channel": party.preferred_channel,
        "contact_hours": party.contact_hours,
        "language": party.language,
        "time_zone": party.time_zone,
        "consent": party.consent,
        "tags": "",
        **overrides,
    }


def test_edit_page_renders_for_staff(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    response = signed_in(staff).get(reverse("web:party_edit", args=[jane.public_id]))

    assert response.status_code == 200
    assert "Contact points" in response.content.decode()


def test_edit_changes_the_party_with_its_events(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    signed_in(staff).post(
        reverse("web:party_edit", args=[jane.public_id]),
        _form(jane, stage="former", time_zone="Europe/London", tags="vip"),
    )

    jane.refresh_from_db()
    assert jane.stage == "former"
    assert jane.time_zone == "Europe/London"
    assert [tag.name for tag in jane.tags.all()] == ["vip"]
    assert Event.objects.filter(party=jane, kind="stage_change").exists()


def test_bad_time_zone_shows_beside_the_field(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    response = signed_in(staff).post(
        reverse("web:party_edit", args=[jane.public_id]),
        _form(jane, time_zone="Mars/Olympus"),
    )

    assert response.status_code == 200
    assert "is not a time zone" in response.content.decode()


def test_viewer_cannot_edit(
    signed_in: Callable[[User], Client], viewer: User, jane: Party
) -> None:
    response = signed_in(viewer).post(
        reverse("web:party_edit", args=[jane.public_id]), _form(jane, stage="former")
    )

    assert response.status_code == 403
    jane.refresh_from_db()
    assert jane.stage == "customer"


def test_outsider_gets_404_editing_a_restricted_party(
    signed_in: Callable[[User], Client], owner: User, outsider: User, jane: Party
) -> None:
    restrict_party(jane, Actor.for_user(owner), restricted=True)

    response = signed_in(outsider).get(reverse("web:party_edit", args=[jane.public_id]))

    assert response.status_code == 404


def test_a_stale_edit_form_does_not_undo_someone_elses_change(
    client, make_party, staff, other_staff
):
    from threadline.parties.services import update_party
    from threadline.timeline.actors import Actor

    jane = make_party("Jane Example", stage="customer")
    client.force_login(staff)
    url = f"/customers/{jane.public_id}/edit/"
    stale = client.get(url).context["form"].initial
    update_party(jane, Actor.for_user(other_staff), stage="former")

    form = {k: ("" if v is None else v) for k, v in stale.items()}
    form["contact_hours"] = "after 5pm"
    response = client.post(url, form)

    jane.refresh_from_db()
    assert response.status_code == 409
    assert "Someone else changed this customer" in response.content.decode()
    assert (jane.stage, jane.contact_hours) == ("former", "")


def test_a_birthday_is_edited_and_shown_in_the_brief(
    signed_in: Callable[[User], Client], staff: User, jane: Party
) -> None:
    client = signed_in(staff)

    client.post(
        reverse("web:party_edit", args=[jane.public_id]),
        _form(jane, birthday="1979-12-25"),
    )

    jane.refresh_from_db()
    assert str(jane.birthday) == "1979-12-25"
    page = client.get(reverse("web:party", args=[jane.public_id])).content.decode()
    assert "Birthday <strong>25 December 1979</strong>" in page
    edit = client.get(reverse("web:party_edit", args=[jane.public_id]))
    assert 'value="1979-12-25"' in edit.content.decode()
