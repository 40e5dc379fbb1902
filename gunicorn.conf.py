"""The web server's settings: gunicorn reads this file from the directory it starts in (the
Procfile's `web` process, bench/ingest.py). Command-line options override it.

Workers are gevent workers: a request waiting on PostgreSQL or Redis costs a greenlet switch,
not a thread hand-off under the GIL, and the requests of one worker that wait together are
stored together (see connector.deliveries.DeliveryWriter). One worker per CPU core unless
WEB_CONCURRENCY says otherwise.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)
worker_class = "gevent"
worker_connections = int(os.environ.get("PARLONS_WEB_CONNECTIONS") or 1000)
