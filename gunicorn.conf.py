"""gunicorn settings for supportline: `gunicorn -c gunicorn.conf.py 'webhooks:create_app()'`.

Every value can be overridden on the command line or through the environment variables named
below. Each worker warms up (routing tables, database and Redis connections) before it takes
its first call, so the first caller after a deploy or restart waits no longer than the rest.
"""

import os

bind = os.environ.get("SUPPORTLINE_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "gthread"
threads = int(os.environ.get("SUPPORTLINE_THREADS", "8"))
# Twilio waits 15 s for a webhook by default; no request here should take a fraction of that.
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = os.environ.get("SUPPORTLINE_ACCESS_LOG", "-")
# Never log query strings beyond the path: they hold no secrets, but keep the line short.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


def post_worker_init(worker):
    app = worker.wsgi
    services = getattr(app, "extensions", {}).get("supportline") if app is not None else None
    if services is not None:
        services.warm(connections=threads)
