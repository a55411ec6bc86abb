"""gunicorn settings for supportline: `gunicorn -c gunicorn.conf.py 'webhooks:create_app()'`.

Every value can be overridden on the command line or through the environment variables named
below. Each worker warms up (routing tables, database and Redis connections) before it takes
its first call, so the first caller after a deploy or restart waits no longer than the rest.

Metrics: with `PROMETHEUS_MULTIPROC_DIR` set (a directory only this service uses), every worker
writes its counters there and `/metrics` adds them up; the master empties it when it starts and
marks a worker dead when it exits. Logs: gunicorn's own lines (master, access) use the service's
format (`LOG_FORMAT`), and each access line ends with the request id.
"""

import os

from webhooks.logs import gunicorn_logger_class

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
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms %({x-request-id}o)s'
logger_class = gunicorn_logger_class()
# gunicorn 24+ opens a control socket, by default ~/.gunicorn/gunicorn.ctl: one per user, so a
# second master on the host (a second instance, a blue/green deploy) would clash with the first.
# Give each master its own, in the instance folder, named after its bind. Older gunicorns ignore it.
control_socket = os.environ.get("SUPPORTLINE_CONTROL_SOCKET") or os.path.join(
    os.environ.get("SUPPORTLINE_INSTANCE", os.path.join(os.getcwd(), "instance")),
    "gunicorn-" + "".join(ch if ch.isalnum() else "_" for ch in bind) + ".ctl",
)


def on_starting(server):
    from webhooks.metrics import clear_multiproc_dir

    clear_multiproc_dir()


def child_exit(server, worker):
    from webhooks.metrics import child_exit as mark_dead

    mark_dead(server, worker)


def post_worker_init(worker):
    app = worker.wsgi
    services = getattr(app, "extensions", {}).get("supportline") if app is not None else None
    if services is not None:
        from webhooks.app import worker_started

        worker_started(services, connections=threads)
