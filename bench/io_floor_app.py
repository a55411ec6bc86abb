"""The io floor for `bench/calls.py`: the floor plus the least I/O a stateful webhook must do.

One POST view that checks the X-Twilio-Signature (twilio's RequestValidator, with the bench's
token and this server's public base URL), makes one Redis GET and one primary-key SELECT in a
transaction that commits (PostgreSQL through a pooled SQLAlchemy engine and psycopg), then returns
a fixed TwiML document. Whatever the service costs above this is its own work; what this costs
above the floor is the price of that signature check, the Redis round trip and the database
round trip with its commit, on this machine.
Served as `gunicorn --chdir bench io_floor_app:app`, with the service's environment
(TWILIO_AUTH_TOKEN, PUBLIC_BASE_URL, REDIS_URL, DATABASE_URL).
"""

from __future__ import annotations

import os

import redis
from flask import Flask, Response, request
from sqlalchemy import create_engine, text
from twilio.request_validator import RequestValidator

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>hello</Say></Response>'
ADVISOR = text("SELECT id, name FROM advisors WHERE id = :pk")

PUBLIC_BASE_URL = os.environ["PUBLIC_BASE_URL"]
validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
# The service's client and pool settings (webhooks/services.py, casestore/db.py).
store = redis.Redis.from_url(
    os.environ["REDIS_URL"],
    decode_responses=True,
    socket_timeout=2.0,
    socket_connect_timeout=2.0,
    health_check_interval=30,
)
engine = create_engine(os.environ["DATABASE_URL"], pool_size=10, max_overflow=10, pool_recycle=1800)

app = Flask(__name__)


@app.get("/healthz")
def healthz() -> Response:
    return Response("ok", status=200, mimetype="text/plain")


@app.post("/voice/<step>")
def webhook(step: str) -> Response:
    url = PUBLIC_BASE_URL + request.full_path.rstrip("?")
    if not validator.validate(url, request.form, request.headers.get("X-Twilio-Signature", "")):
        return Response("invalid signature", status=403, mimetype="text/plain")
    store.get(f"bench:io-floor:{request.form.get('CallSid', '')}")
    with engine.begin() as conn:  # commits on the way out
        conn.execute(ADVISOR, {"pk": 1}).one()
    return Response(TWIML, status=200, mimetype="application/xml")
