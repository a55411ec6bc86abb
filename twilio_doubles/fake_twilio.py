"""A fake Twilio REST server for the tests and the storm bench: real HTTP on 127.0.0.1, the
2010-04-01 endpoints we use.

    POST /2010-04-01/Accounts/{AccountSid}/Calls.json            place a call     -> 201 "CA…"
    POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json  redirect/hang up -> 200
    GET  /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json  fetch a call     -> 200 (its status)
    POST /2010-04-01/Accounts/{AccountSid}/Messages.json         send an SMS      -> 201 "SM…"

It checks HTTP basic auth (401, code 20003), validates numbers (400, code 21211 / 21212), knows
which calls exist (404, code 20404) and which have ended (400, code 21220), and answers errors
with Twilio's JSON error body. Tests script failures with `fail_next(...)` / `stall_next()` and
inspect `calls`, `updates`, `messages` (snapshots, thread-safe). Calls that reached the service by
webhook exist too once registered with `inbound(sid)`; `on_update(hook)` hears of every accepted
call update at once (a load driver follows each redirect the way Twilio would). Use the
`fake_twilio` fixture (tests/conftest.py):

    def test_x(fake_twilio):
        tel = TwilioTelephony(fake_twilio.account_sid, fake_twilio.auth_token,
                              base_url=fake_twilio.base_url)
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

ACCOUNT_SID = "AC" + "f" * 32
AUTH_TOKEN = "fake-twilio-auth-token-0123456789"

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/"
    r"(?:(?P<calls>Calls\.json)|Calls/(?P<call_sid>[^/]+)\.json|(?P<messages>Messages\.json))$"
)


@dataclass(frozen=True)
class Posted:
    """One accepted request: the resource sid it created or changed, and the form it carried."""

    sid: str
    form: Mapping[str, str]

    def __getitem__(self, name: str) -> str:
        return self.form[name]

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.form.get(name, default)


@dataclass
class _Failure:
    status: int
    code: int | None
    message: str


@dataclass
class _Call:
    sid: str
    to: str
    from_: str
    status: str = "queued"
    history: list[str] = field(default_factory=list)
    direction: str = "outbound-api"


class _ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class FakeTwilio:
    """The server and its state. `start()` / `stop()`; the fixture does both."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._lock = threading.Lock()
        self._calls: list[Posted] = []
        self._updates: list[Posted] = []
        self._messages: list[Posted] = []
        self._live: dict[str, _Call] = {}
        self._failures: list[_Failure] = []
        self._stalls = 0
        self._release = threading.Event()
        self._ids = itertools.count(1)
        self._update_hooks: list[Callable[[Posted], None]] = []
        self.requests = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()  # let stalled handlers finish
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- scripting and inspection ------------------------------------------------------------

    def fail_next(self, status: int = 503, code: int | None = None, message: str = "") -> None:
        """The next request (any endpoint) gets this error instead; queue several for several.

        With a `code` the body is Twilio's JSON error; without one, a plain-text body (like an
        overloaded load balancer would send)."""
        with self._lock:
            self._failures.append(_Failure(status, code, message or f"Scripted failure {status}"))

    def stall_next(self) -> None:
        """The next request gets no answer until the server stops (for client timeouts)."""
        with self._lock:
            self._stalls += 1

    def end_call(self, call_sid: str) -> None:
        """The call hangs up: further updates answer 400, code 21220."""
        with self._lock:
            self._live[call_sid].status = "completed"

    def inbound(self, *call_sids: str) -> None:
        """Calls that reached the service by webhook: live (in progress), so they may be updated."""
        with self._lock:
            for sid in call_sids:
                self._live.setdefault(sid, _Call(sid, "", "", "in-progress", direction="inbound"))

    def on_update(self, hook: Callable[[Posted], None]) -> None:
        """Call `hook(update)` for every accepted call update (redirect or hang-up), on the request's
        thread, after it is recorded and before it is answered. The hook must be quick and not raise."""
        with self._lock:
            self._update_hooks.append(hook)

    def call_status(self, call_sid: str) -> str:
        with self._lock:
            return self._live[call_sid].status

    @property
    def calls(self) -> list[Posted]:
        with self._lock:
            return list(self._calls)

    @property
    def updates(self) -> list[Posted]:
        with self._lock:
            return list(self._updates)

    @property
    def messages(self) -> list[Posted]:
        with self._lock:
            return list(self._messages)

    # -- request handling (called from handler threads) --------------------------------------

    def _next_sid(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):032x}"

    def handle(self, method: str, path: str, auth: str | None, form: dict[str, str]):
        """(status, json body or text) for one request."""
        with self._lock:
            self.requests += 1
            stall = self._stalls > 0
            if stall:
                self._stalls -= 1
        if stall:
            self._release.wait(timeout=10)
            return None
        with self._lock:
            if self._failures:
                failure = self._failures.pop(0)
                if failure.code is None:
                    return failure.status, failure.message
                return failure.status, _error_body(failure.status, failure.code, failure.message)
        try:
            match = _PATH.match(path)
            if not match:
                raise _ApiError(404, 20404, f"The requested resource {path} was not found")
            if method not in ("POST", "GET") or (method == "GET" and not match["call_sid"]):
                raise _ApiError(405, 20004, "Method not allowed")
            if not self._authorised(auth) or match["account"] != self.account_sid:
                raise _ApiError(401, 20003, "Authenticate")
            with self._lock:
                if method == "GET":  # fetch a call: its status now
                    call = self._live.get(match["call_sid"])
                    if call is None:
                        raise _ApiError(404, 20404, f"The requested resource {path} was not found")
                    return 200, self._call_resource(call)
                if match["calls"]:
                    return 201, self._create_call(form)
                if not match["call_sid"]:
                    return 201, self._create_message(form)
                body = self._update_call(match["call_sid"], form)
                update, hooks = self._updates[-1], list(self._update_hooks)
            for hook in hooks:
                hook(update)
            return 200, body
        except _ApiError as exc:
            return exc.status, _error_body(exc.status, exc.code, exc.message)

    def _authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and password == self.auth_token

    def _create_call(self, form: dict[str, str]) -> dict:
        to, from_ = form.get("To", ""), form.get("From", "")
        if not to:
            raise _ApiError(400, 21201, "No 'To' number is specified")
        if not from_:
            raise _ApiError(400, 21213, "No 'From' number is specified")
        if not _E164.match(to):
            raise _ApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not _E164.match(from_):
            raise _ApiError(400, 21212, f"Invalid 'From' Phone Number: {from_}")
        if not form.get("Url") and not form.get("Twiml"):
            raise _ApiError(400, 21205, "Url parameter is required.")
        sid = self._next_sid("CA")
        self._live[sid] = _Call(sid, to, from_)
        self._calls.append(Posted(sid, dict(form)))
        return self._call_resource(self._live[sid])

    def _update_call(self, call_sid: str, form: dict[str, str]) -> dict:
        call = self._live.get(call_sid)
        if call is None:
            raise _ApiError(404, 20404, f"The requested resource /Calls/{call_sid}.json was not found")
        if call.status in {"completed", "canceled", "failed", "busy", "no-answer"}:
            raise _ApiError(400, 21220, "Call is not in-progress. Cannot redirect.")
        status = form.get("Status")
        if status is not None and status not in {"completed", "canceled"}:
            raise _ApiError(400, 21218, f"Invalid Status: {status}")
        if status is None and not form.get("Url") and not form.get("Twiml"):
            raise _ApiError(400, 21205, "Url parameter is required.")
        if status:
            call.status = status
        else:
            call.status = "in-progress"
        call.history.append(form.get("Url") or form.get("Twiml") or status or "")
        self._updates.append(Posted(call_sid, dict(form)))
        return self._call_resource(call)

    def _create_message(self, form: dict[str, str]) -> dict:
        to, from_, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            raise _ApiError(400, 21604, "A 'To' phone number is required.")
        if not from_:
            raise _ApiError(400, 21603, "A 'From' phone number is required.")
        if not _E164.match(to):
            raise _ApiError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not body:
            raise _ApiError(400, 21602, "Message body is required.")
        sid = self._next_sid("SM")
        self._messages.append(Posted(sid, dict(form)))
        now = formatdate(usegmt=True)
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": to,
            "from": from_,
            "body": body,
            "status": "queued",
            "direction": "outbound-api",
            "num_segments": "1",
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "price": None,
            "error_code": None,
            "error_message": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }

    def _call_resource(self, call: _Call) -> dict:
        now = formatdate(usegmt=True)
        return {
            "sid": call.sid,
            "account_sid": self.account_sid,
            "to": call.to,
            "from": call.from_,
            "status": call.status,
            "direction": call.direction,
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "start_time": None,
            "end_time": None,
            "duration": None,
            "price": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{call.sid}.json",
        }


def _error_body(status: int, code: int, message: str) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: nothing left open at shutdown
    server_version = "FakeTwilio/1.0"

    def do_POST(self) -> None:
        self._answer("POST")

    def do_GET(self) -> None:
        self._answer("GET")

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        form = dict(parse_qsl(raw, keep_blank_values=True))
        path = self.path.split("?", 1)[0]
        result = self.server.fake.handle(  # type: ignore[attr-defined]
            method, path, self.headers.get("Authorization"), form
        )
        if result is None:  # stalled: the client has given up; say nothing
            self.close_connection = True
            return
        status, body = result
        if isinstance(body, dict):
            payload, ctype = json.dumps(body).encode(), "application/json"
        else:
            payload, ctype = str(body).encode(), "text/plain"
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args) -> None:  # keep test output quiet
        pass
