"""Cutting quoted earlier messages off replies."""

import pytest

from threadline.mail.parsing import html_to_text
from threadline.mail.quotes import strip_quoted_reply


@pytest.mark.parametrize(
    "reply",
    [
        "Thanks, Tuesday works.\n\nOn Mon, 3 Mar 2025 at 10:00, Jane <j@x.net> wrote:\n"
        "> Could you come?\n> Jane",
        "Thanks, Tuesday works.\n\nOn Mon, 3 Mar 2025 at 10:00, Jane Example\n"
        "<jane@example.net> wrote:\n\nCould you come?",
        "Thanks, Tuesday works.\n\n-----Original Message-----\nFrom: Jane\n"
        "Sent: Monday\nSubject: Visit\n\nCould you come?",
        "Thanks, Tuesday works.\n\n________________________________\nFrom: Jane "
        "<jane@example.net>\nSent: 03 March 2025 10:00\nTo: Desk\n\nCould you come?",
        "Thanks, Tuesday works.\n\nFrom: Jane Example <jane@example.net>\n"
        "Sent: Monday, March 3, 2025 10:00 AM\nTo: Desk\nSubject: Visit\n\nCome?",
        "Thanks, Tuesday works.\n\nAm 03.03.2025 um 10:00 schrieb Jane Example:\n"
        "> Können Sie kommen?",
        "Thanks, Tuesday works.\r\n\r\n-----Ursprüngliche Nachricht-----\r\n"
        "Von: Jane\r\nGesendet: Montag",
    ],
)
def test_quoted_earlier_message_is_cut(reply):
    assert strip_quoted_reply(reply) == "Thanks, Tuesday works."


def test_interleaved_quotes_lose_only_the_quoted_lines():
    reply = "> Can you do Tuesday?\nYes, at 9.\n> And the price?\n120 EUR."

    assert strip_quoted_reply(reply) == "Yes, at 9.\n120 EUR."


def test_a_message_that_quotes_nothing_is_kept_whole():
    text = "From the look of it the boiler needs a new valve.\nSent by Jane"

    assert strip_quoted_reply(text) == text


def test_html_loses_scripts_styles_and_tags_but_keeps_paragraphs():
    markup = (
        "<style>p{color:red}</style><p>Dear team,</p><p>the tap &lt;still&gt; "
        "leaks.<br>Jane</p><script>steal()</script><img src=x onerror=alert(1)>"
    )

    assert html_to_text(markup) == "Dear team,\nthe tap <still> leaks.\nJane"


def test_an_escaped_from_line_before_any_attribution_is_kept():
    reply = "Hello Helen,\n>From the start we agreed on 450 EUR.\n> Agreed?\nThanks"

    assert strip_quoted_reply(reply) == (
        "Hello Helen,\n>From the start we agreed on 450 EUR.\nThanks"
    )


def test_an_escaped_from_line_after_the_attribution_goes_with_the_quotation():
    reply = "Thanks.\n\nOn Mon, Jane wrote:\n>From Tuesday on, please."

    assert strip_quoted_reply(reply) == "Thanks."


def test_a_reply_written_between_the_quoted_lines_keeps_its_own_words():
    reply = (
        "On Tue, 17 Nov 2009, Alex <alex@example.org> wrote:\n"
        "> I compiled it on FreeBSD.\n> It crashed.\n\nHi Alex,\n\nThat's great!\n\n"
        "> Attached is a patch.\n\nThanks for the patch.\n\n-Carl\n\n"
        "_______________________________________________\nlist mailing list"
    )

    assert strip_quoted_reply(reply) == (
        "Hi Alex,\n\nThat's great!\n\nThanks for the patch.\n\n-Carl"
    )


def test_a_top_posted_reply_under_a_reply_below_keeps_both():
    reply = (
        "See below.\n\nOn Mon, Jane wrote:\n> Tuesday?\nTuesday at 9.\n"
        "> Price?\n120 EUR."
    )

    assert strip_quoted_reply(reply) == "See below.\n\nTuesday at 9.\n120 EUR."
