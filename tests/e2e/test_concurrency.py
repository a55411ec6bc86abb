"""200 callers and 50 advisors across two app instances ("workers") sharing PostgreSQL and Redis,
driven from many threads: no advisor ever holds two calls, and every caller ends put through or
with a callback request.

Each app has its own engine, pools and routing-table cache, as two gunicorn workers would; they
share one real Redis and one database. Calls alternate between the two apps request by request,
as a load balancer would send them. Runs when the suite runs on PostgreSQL (TEST_DATABASE_URL) and
real Redis (TEST_REDIS_URL), as CI's second pass does.
"""

from __future__ import annotations

import itertools
import random
import threading
import uuid
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import redis as redis_lib
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from auth.pins import hash_pin
from casestore.db import make_engine, make_session_factory, upgrade
from casestore.models import Advisor, AdvisorSkill, CallbackTask, CallLog, Contact, ContactPhone, District
from casestore.types import ProductArea
from ivr.telephony import RecordingTelephony
from routing.presence import Presence
from tests.conftest import AUTH_TOKEN, BASE_URL, PIN_PEPPER, TEST_DATABASE_URL, TEST_REDIS_URL

pytestmark = pytest.mark.skipif(
    not (TEST_DATABASE_URL.startswith("postgresql") and TEST_REDIS_URL),
    reason="needs PostgreSQL and a real Redis (TEST_DATABASE_URL, TEST_REDIS_URL), as in CI's second pass",
)

CALLERS = 200
ADVISORS = 50
THREADS = 24
PHONE = "+16125550134"


class TickingClock:
    """A fake clock shared by threads: every reading moves it on by 10 ms."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self._now += timedelta(milliseconds=10)
            return self._now


@pytest.fixture
def shared_db():
    url = make_url(TEST_DATABASE_URL)
    name = f"{url.database}_concurrency"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db_url = url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(db_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions() as s:
        district = District(name="Lakeview Public Schools", state="MN", hosted=True)
        contact = Contact(
            contact_id="104233",
            district=district,
            name="Dana Whitfield",
            pin_hash=hash_pin(PIN_PEPPER, "104233", "4821"),
        )
        contact.phones = [ContactPhone(e164=PHONE, position=0)]
        s.add_all([district, contact])
        for i in range(ADVISORS):
            a = Advisor(name=f"Advisor {i:02d}", reach=f"+1612556{i:04d}", active=True)
            a.skill_rows = [AdvisorSkill(skill=ProductArea.GRADE_BOOK)]
            s.add(a)
        s.commit()
        pks = [a.id for a in s.scalars(select(Advisor))]
    engine.dispose()
    yield db_url, pks
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_200_callers_50_advisors_two_workers(shared_db, tmp_path):
    from twilio_doubles.simulator import CallSimulator
    from webhooks import create_app

    db_url, advisor_pks = shared_db
    client = redis_lib.Redis.from_url(TEST_REDIS_URL, decode_responses=True)
    client.flushdb()
    clock = TickingClock(datetime(2026, 11, 17, 15, 0, tzinfo=UTC))
    presence = Presence(client, "America/Chicago")
    for pk in advisor_pks:
        presence.set_state(pk, "available", clock())
    carrier = RecordingTelephony()
    settings = {
        "development": False,
        "twilio_auth_tokens": (AUTH_TOKEN,),
        "twilio_account_sid": "AC" + "0" * 32,
        "public_base_url": BASE_URL,
        "secret_key": "test-secret-key-0123456789abcdef",
        "pin_pepper": PIN_PEPPER,
        "database_url": db_url,
        "redis_url": TEST_REDIS_URL,
        "instance_path": tmp_path,
        "routing_cache_seconds": 30,
        "wrap_up_seconds": 0,
    }
    workers = [
        create_app(
            settings,
            redis_client=redis_lib.Redis.from_url(TEST_REDIS_URL, decode_responses=True),
            clock=clock,
            telephony=carrier,
        )
        for _ in range(2)
    ]
    sims = [CallSimulator(w.test_client(), base_url=BASE_URL, auth_token=AUTH_TOKEN) for w in workers]
    turn = itertools.count()
    reach_to_pk = {f"+1612556{i:04d}": pk for i, pk in enumerate(sorted(advisor_pks))}

    holding: dict[int, str] = {}  # advisor pk -> the call the test saw put through to them
    violations: list[str] = []
    guard = threading.Lock()

    def post(path: str, params: dict) -> ET.Element:
        sim = sims[next(turn) % 2]  # alternate workers, like a round-robin load balancer
        if path.startswith(BASE_URL):
            path = path[len(BASE_URL) :]
        return ET.fromstring(sim.post(path, params))

    class Caller:
        def __init__(self) -> None:
            self.sid = "CA" + uuid.uuid4().hex
            carrier.inbound(self.sid)
            self.base = {
                "CallSid": self.sid,
                "AccountSid": "AC" + "0" * 32,
                "From": PHONE,
                "To": "+18005550100",
                "CallStatus": "in-progress",
            }
            self.root: ET.Element | None = None
            self.talking_to: int | None = None
            self.dial_action = ""
            self.seen_redirects = 0
            self.outcome = ""
            self.rounds = 0

        def arrive(self) -> None:
            root = post("/voice/incoming", self.base)
            root = post(root.find("Gather").get("action"), dict(self.base, Digits="4821"))
            for digits in ("0", "0"):  # a new issue, area not sure (ivr.flow.area)
                root = post(root.find("Gather").get("action"), dict(self.base, Digits=digits))
            self.take(post(root.find("Gather").get("action"), dict(self.base, Digits="3")))  # not urgent

        def take(self, root: ET.Element) -> None:
            self.root = root
            dial = root.find("Dial")
            if dial is None:
                return
            reach = (next(iter(dial)).text or "").strip()
            pk = reach_to_pk[reach]
            with guard:
                if pk in holding:
                    violations.append(f"advisor {pk} given to {self.sid} while holding {holding[pk]}")
                holding[pk] = self.sid
            leg = dict(self.base, CallSid=self.sid + "-leg", ParentCallSid=self.sid)
            whisper = post(next(iter(dial)).get("url"), leg)
            post(whisper.find("Gather").get("action"), dict(leg, Digits="1"))
            self.talking_to, self.dial_action = pk, dial.get("action")

        def hang_up_advisor(self) -> None:
            pk = self.talking_to
            with guard:
                holding.pop(pk, None)  # before the server can free them
            post(self.dial_action, dict(self.base, DialCallStatus="completed", DialCallDuration="240"))
            post("/voice/status", dict(self.base, CallStatus="completed", CallDuration="300"))
            self.talking_to, self.outcome = None, "connected"

        def hold_round(self) -> None:
            redirects = carrier.redirects_for(self.sid)
            if len(redirects) > self.seen_redirects:
                self.seen_redirects = len(redirects)
                self.take(post(redirects[-1], self.base))
                return
            self.rounds += 1
            if self.rounds > 12:  # has waited long enough: asks for a callback
                root = post(self.root.find("Gather").get("action"), dict(self.base, Digits="1"))
                root = post(root.find("Gather").get("action"), dict(self.base, Digits="2"))
                post("/voice/status", dict(self.base, CallStatus="completed", CallDuration="400"))
                self.outcome = "callback"
                return
            self.take(post(self.root.find("Redirect").text, self.base))

        def step(self) -> None:
            if self.talking_to is not None:
                self.hang_up_advisor()
            elif self.root is not None and not self.outcome:
                self.hold_round()

    callers = [Caller() for _ in range(CALLERS)]
    rng = random.Random(7)
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda c: c.arrive(), callers))
        assert sum(1 for c in callers if c.talking_to is not None) == ADVISORS
        for _ in range(60):
            live = [c for c in callers if not c.outcome]
            if not live:
                break
            rng.shuffle(live)
            list(pool.map(lambda c: c.step(), live))

    for w in workers:  # no refresh thread left reading the database this test drops, no connection left open
        svc = w.extensions["supportline"]
        svc.tables.stop()
        svc.engine.dispose()
        svc.redis.close()
    assert violations == []
    outcomes = {c.sid: c.outcome for c in callers}
    assert all(outcomes.values()), [s for s, o in outcomes.items() if not o][:5]
    engine = make_engine(db_url)
    with make_session_factory(engine)() as s:
        rows = {r.call_sid: r for r in s.scalars(select(CallLog))}
        tasks = {t.call_sid for t in s.scalars(select(CallbackTask))}
    engine.dispose()
    assert len(rows) == CALLERS
    for c in callers:
        if c.outcome == "connected":
            assert rows[c.sid].outcome == "connected", (c.sid, rows[c.sid].outcome, rows[c.sid].path)
        else:
            assert rows[c.sid].outcome == "callback_requested" and c.sid in tasks
    connected = sum(1 for o in outcomes.values() if o == "connected")
    assert connected >= ADVISORS
    # The line really worked: waiting callers were put through by the dispatcher's redirects.
    assert sum(1 for c in callers if c.seen_redirects) >= ADVISORS, connected
    now = clock()
    views = presence.snapshot(advisor_pks, now)
    assert all(v.state == "available" for v in views.values()), {
        pk: v.state for pk, v in views.items() if v.state != "available"
    }
    assert client.zcard("{sl:queue}:line") == 0
    client.flushdb()
