"""Split the stored words of names at curly apostrophes, as typed searches
now are: a customer saved as "O’Connor" is found by "O'Connor"."""

import re

from django.db import migrations

APOSTROPHES = ("\u2018", "\u2019", "\u02bc")
# The words of a name as search/services.py parted them when this was written.
WORD_BREAKS = re.compile(r"[\s,.;:_\-'\"()\u2018\u2019\u02bc]+")


def split_at_apostrophes(apps, schema_editor):
    party_model = apps.get_model("parties", "Party")
    term_model = apps.get_model("search", "SearchTerm")
    for apostrophe in APOSTROPHES:
        named = party_model.objects.filter(display_name__contains=apostrophe)
        for party in named.only("pk", "sort_name").iterator():
            stored = set(
                term_model.objects.filter(party_id=party.pk).values_list(
                    "term", flat=True
                )
            )
            words = {word[:300] for word in WORD_BREAKS.split(party.sort_name)}
            term_model.objects.bulk_create(
                term_model(party_id=party.pk, term=word)
                for word in sorted(words - stored)
                if word
            )


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0001_initial"),
        ("parties", "0004_duplicate_candidates"),
    ]

    operations = [
        migrations.RunPython(split_at_apostrophes, migrations.RunPython.noop),
    ]
