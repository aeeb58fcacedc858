"""Search keys of parties, kept beside them for prefix search as you type."""

from django.db import models


class SearchTerm(models.Model):
    """One key a party can be found by: a folded name word, an email, or the
    digits of a phone (full and national form)."""

    party = models.ForeignKey(
        "parties.Party", on_delete=models.CASCADE, related_name="search_terms"
    )
    term = models.CharField(max_length=300)

    class Meta:
        ordering = ["term"]
        indexes = [models.Index(fields=["term", "party"], name="searchterm_term_party")]

    def __str__(self) -> str:
        return self.term
