import datetime as dt
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from tests.web.conftest import htmx
from threadline.accounts.models import User
from threadline.followups.models import FollowUp
from threadline.followups.services import create_follow_up
from threadline.parties.models import Party
from threadline.parties.services import restrict_party
from threadline.timeline.actors import Actor


@pytest.fixture
def follow_up(jane: Party, staff: User, now: dt.datetime) -> FollowUp:
    return create_follow_up(
        jane, Actor.for_user(staff), "Ring back", now - dt.timedelta(hours=1), staff
    )


def test_finishing_inline_answers_with_the_done_row(
    signed_in: Callable[[User], Client], staff: User, follow_up: FollowUp
) -> None:
    response = signed_in(staff).post(
        reverse("web:follow_up_finish", args=[follow_up.public_id]),
        {"show_party": "1"},
        **htmx(),
    )

    follow_up.refresh_from_db()
    assert follow_up.status == "done"
    assert "is-done" in response.content.decode()
    assert "brief-changed" in response["HX-Trigger"]
    assert "<html" not in response.content.decode()


def test_rescheduling_to_tomorrow(
    signed_in: Callable[[User], Client], staff: User, follow_up: FollowUp
) -> None:
    before = follow_up.due_at

    signed_in(staff).post(
        reverse("web:follow_up_reschedule", args=[follow_up.public_id]),
        {"preset": "tomorrow"},
    )

    follow_up.refresh_from_db()
    assert follow_up.due_at > before + dt.timedelta(hours=1)
    assert follow_up.status == "open"


def test_rescheduling_to_a_typed_time(
    signed_in: Callable[[User], Client],
    staff: User,
    follow_up: FollowUp,
    now: dt.datetime,
) -> None:
    response = signed_in(staff).post(
        reverse("web:follow_up_reschedule", args=[follow_up.public_id]),
        {"due_at": "2031-05-04T10:30"},
        **htmx(),
    )

    follow_up.refresh_from_db()
    assert follow_up.due_at.year == 2031
    assert "Ring back" in response.content.decode()


def test_viewer_cannot_finish(
    signed_in: Callable[[User], Client], viewer: User, follow_up: FollowUp
) -> None:
    response = signed_in(viewer).post(
        reverse("web:follow_up_finish", args=[follow_up.public_id])
    )

    assert response.status_code == 403
    follow_up.refresh_from_db()
    assert follow_up.status == "open"


def test_outsider_gets_404_on_a_restricted_follow_up(
    signed_in: Callable[[User], Client],
    owner: User,
    outsider: User,
    jane: Party,
    follow_up: FollowUp,
) -> None:
    restrict_party(jane, Actor.for_user(owner), restricted=True)

    response = signed_in(outsider).post(
        reverse("web:follow_up_finish", args=[follow_up.public_id])
    )

    assert response.status_code == 404


def test_follow_up_cannot_go_to_someone_shut_out_of_the_customer(
    make_party, owner, outsider, now
):
    import pytest

    from threadline.errors import InvalidInput
    from threadline.followups.services import create_follow_up
    from threadline.parties.services import restrict_party
    from threadline.timeline.actors import Actor

    jane = make_party("Jane Example")
    restrict_party(jane, Actor.for_user(owner), restricted=True)

    with pytest.raises(InvalidInput, match="cannot see this customer"):
        create_follow_up(jane, Actor.for_user(owner), "Call", now, outsider)


def test_follow_up_cannot_go_to_a_viewer(make_party, owner, viewer, now):
    import pytest

    from threadline.errors import InvalidInput
    from threadline.followups.services import create_follow_up
    from threadline.timeline.actors import Actor

    with pytest.raises(InvalidInput, match="may only read"):
        create_follow_up(make_party(), Actor.for_user(owner), "Call", now, viewer)
