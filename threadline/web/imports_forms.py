"""The form of the Imports page: a file, and the system it came from."""

from django import forms
from django.template.defaultfilters import filesizeformat

from threadline.transfer.uploads import KINDS_TEXT, MAX_UPLOAD_BYTES

ACCEPT = ".csv,.tsv,.txt,.xlsx,.xlsm,.vcf,.vcard,.ics,.ical,.ifb,.eml,.mbox"


class UploadForm(forms.Form):
    file = forms.FileField(
        label="File",
        help_text=f"{KINDS_TEXT}; up to {filesizeformat(MAX_UPLOAD_BYTES)}.",
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
        error_messages={"required": "Choose a file to import."},
    )
    source = forms.CharField(
        label="Where it comes from",
        required=False,
        max_length=90,
        help_text="Optional, e.g. “old shop system”. Ids in the file are matched "
        "only against earlier files from the same place.",
    )
