"""Console sign-in throttling (issue #13, item 10): one atomic check-and-count per attempt, keyed
by account and by the client's address (taken through `TRUSTED_PROXIES` proxy hops), so parallel
guesses get no more tries than the limit, one client's failures never lock another client out, and
with Redis down the failures are counted in the database instead of the page failing."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis as redis_lib

from auth.admins import hash_password
from auth.signin_throttle import ACCOUNT_MAX_FAILURES, ADDRESS_MAX_FAILURES, PAIR_MAX_FAILURES
from casestore.db import make_engine, make_session_factory, upgrade
from casestore.models import AdminUser
from casestore.types import AdminRole
from tests.adminkit import PASSWORD, Browser, accounts, browser  # noqa: F401  (fixtures)
from tests.conftest import TEST_REDIS_URL

PARALLEL = 20


@pytest.fixture(params=["fakeredis", pytest.param("redis", marks=pytest.mark.real_redis)])
def any_redis(request):
    if request.param == "fakeredis":
        import fakeredis

        yield fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
        return
    if not TEST_REDIS_URL:
        pytest.skip("needs TEST_REDIS_URL")
    client = redis_lib.Redis.from_url(TEST_REDIS_URL, decode_responses=True)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def threaded_app(tmp_path, settings_overrides, any_redis, clock, telephony):
    """An app on its own SQLite file, so many threads may sign in at once (the test database's
    single connection is not for sharing between threads)."""
    from webhooks import create_app

    engine = make_engine(f"sqlite:///{tmp_path / 'throttle.sqlite3'}")
    upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions() as s:
        s.add(AdminUser(username="admin", password_hash=hash_password(PASSWORD), role=AdminRole.ADMIN, active=True))
        s.commit()
    app = create_app(
        settings_overrides, engine=engine, sessions=sessions, redis_client=any_redis, clock=clock, telephony=telephony
    )
    yield app
    engine.dispose()


def _token(client) -> str:
    page = client.get("/admin/login", base_url="https://localhost").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_parallel_wrong_passwords_get_no_more_tries_than_the_limit(threaded_app):
    clients = [threaded_app.test_client() for _ in range(PARALLEL)]
    tokens = [_token(c) for c in clients]
    start = threading.Barrier(PARALLEL)

    def attempt(i: int) -> int:
        start.wait()
        return (
            clients[i]
            .post(
                "/admin/login",
                base_url="https://localhost",
                headers={"Referer": "https://localhost/admin/login"},
                data={"username": "admin", "password": f"wrong guess {i}", "csrf_token": tokens[i]},
            )
            .status_code
        )

    with ThreadPoolExecutor(PARALLEL) as pool:
        codes = list(pool.map(attempt, range(PARALLEL)))
    evaluated = codes.count(401)
    assert set(codes) <= {401, 429}
    assert evaluated <= PAIR_MAX_FAILURES, f"{evaluated} of {PARALLEL} evaluated"  # was 20: counted after the check


def _client_at(app, address: str | None):
    """A browser behind the proxy: the proxy appends the client's address to X-Forwarded-For."""
    client = app.test_client()
    headers = {"X-Forwarded-For": address} if address else {}

    def login(username: str, password: str) -> int:
        page = client.get("/admin/login", base_url="https://localhost", headers=headers).get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        return client.post(
            "/admin/login",
            base_url="https://localhost",
            headers={**headers, "Referer": "https://localhost/admin/login"},
            data={"username": username, "password": password, "csrf_token": token},
        ).status_code

    return login


@pytest.fixture
def proxied(settings_overrides, engine, session_factory, redis_client, clock, telephony, accounts):
    from webhooks import create_app

    return create_app(
        {**settings_overrides, "trusted_proxies": 1},
        engine=engine,
        sessions=session_factory,
        redis_client=redis_client,
        clock=clock,
        telephony=telephony,
    )


def test_behind_a_proxy_one_clients_failures_do_not_lock_out_another(proxied):
    mallory, alice = _client_at(proxied, "203.0.113.5"), _client_at(proxied, "198.51.100.7")
    for _ in range(PAIR_MAX_FAILURES):
        assert mallory("admin", "not the password") == 401
    assert mallory("admin", PASSWORD) == 429  # locked: that account, from that address
    assert alice("admin", PASSWORD) == 302  # was 429: every client shared the proxy's address


def test_without_trusted_proxies_a_forged_forwarded_for_changes_nothing(app, accounts):
    for i in range(PAIR_MAX_FAILURES):
        assert _client_at(app, f"192.0.2.{i}")("admin", "not the password") == 401
    assert _client_at(app, "192.0.2.99")("admin", PASSWORD) == 429


def test_one_address_guessing_many_accounts_is_locked_out_of_all_of_them(proxied, clock):
    mallory = _client_at(proxied, "203.0.113.5")
    for i in range(ADDRESS_MAX_FAILURES):
        assert mallory(f"user{i}", "not the password") == 401
    assert mallory("viewer", PASSWORD) == 429
    assert _client_at(proxied, "198.51.100.7")("viewer", PASSWORD) == 302
    clock.advance(minutes=16)
    assert mallory("viewer", PASSWORD) == 302


def test_many_addresses_cannot_lock_an_account_out_for_its_own_user(proxied, clock):
    alice = _client_at(proxied, "198.51.100.7")
    assert alice("admin", PASSWORD) == 302  # alice has signed in from here before
    for host in range(1, ACCOUNT_MAX_FAILURES // PAIR_MAX_FAILURES + 2):  # a botnet guessing her password
        for _ in range(PAIR_MAX_FAILURES):
            _client_at(proxied, f"203.0.113.{host}")("admin", "not the password")
    assert _client_at(proxied, "203.0.113.200")("admin", PASSWORD) == 429  # a new address: locked
    assert _client_at(proxied, "198.51.100.7")("admin", PASSWORD) == 302  # alice's own address: not


def test_with_redis_down_failures_are_counted_in_the_database(
    settings_overrides, engine, session_factory, dead_redis, clock, telephony, accounts
):
    from webhooks import create_app

    app = create_app(
        settings_overrides,
        engine=engine,
        sessions=session_factory,
        redis_client=dead_redis,
        clock=clock,
        telephony=telephony,
    )
    down = Browser(app.test_client())
    assert down.login("viewer").status_code == 302  # was a 500
    down.post("/admin/logout")
    for _ in range(PAIR_MAX_FAILURES):
        assert down.login("admin", "not the password").status_code == 401
    assert down.login("admin").status_code == 429  # counted in the database: fails closed
    assert Browser(app.test_client()).login("supervisor").status_code == 302
    clock.advance(minutes=16)
    assert down.login("admin").status_code == 302
