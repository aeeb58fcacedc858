"""WSGI entry point for production servers."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "threadline.settings")
application = get_wsgi_application()
# Start-up objects live as long as the process; the collector need not rescan
# them, which keeps its pauses out of request latency.
gc.freeze()
