"""The floor for `bench/calls.py`: the cheapest possible Flask webhook on the same server settings.

One POST view that returns a fixed TwiML document: no signature check, no form parsing, no
database, no Redis. Whatever the real service costs above this is the service's own work.
Served as `gunicorn --chdir bench floor_app:app`.
"""

from __future__ import annotations

from flask import Flask, Response

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>hello</Say></Response>'

app = Flask(__name__)


@app.post("/voice/<step>")
def webhook(step: str) -> Response:
    return Response(TWIML, status=200, mimetype="application/xml")
