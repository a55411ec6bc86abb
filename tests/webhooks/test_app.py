"""App factory, configuration safety, migrations and health."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect

from casestore.db import at_head, head_revision
from casestore.models import Base
from webhooks import create_app
from webhooks.config import ConfigurationError, load_settings


def test_refuses_unsafe_production_config(tmp_path):
    with pytest.raises(ConfigurationError) as err:
        create_app({"development": False, "instance_path": tmp_path}, clock=None)
    message = str(err.value)
    assert "TWILIO_AUTH_TOKEN" in message and "SECRET_KEY" in message and "PIN_PEPPER" in message
    assert "\n" not in message


def test_refuses_default_secret_even_when_set(tmp_path, settings_overrides):
    bad = dict(settings_overrides, secret_key="dev-secret-key-not-for-production")
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app(bad)


def test_development_mode_fills_demo_secrets(tmp_path):
    settings = load_settings({"development": True, "instance_path": tmp_path}, environ={})
    assert settings.secret_key and settings.pin_pepper and settings.twilio_auth_tokens
    assert settings.database_url == f"sqlite:///{tmp_path / 'supportline.sqlite3'}"
    assert settings.redis_embedded


def test_environment_parsing_accepts_token_rotation_list(tmp_path):
    settings = load_settings(
        environ={
            "TWILIO_AUTH_TOKEN": "new-token-aaaaaaaaaaaaaaaa, old-token-bbbbbbbbbbbbbbbb",
            "PUBLIC_BASE_URL": "https://abc.ngrok.app/",
            "SUPPORTLINE_INSTANCE": str(tmp_path),
        }
    )
    assert settings.twilio_auth_tokens == ("new-token-aaaaaaaaaaaaaaaa", "old-token-bbbbbbbbbbbbbbbb")
    assert settings.twilio_auth_token == "new-token-aaaaaaaaaaaaaaaa"
    assert settings.public_base_url == "https://abc.ngrok.app"
    assert settings.support_timezone == "America/Chicago"


def test_unknown_override_is_an_error():
    with pytest.raises(KeyError):
        load_settings({"no_such_setting": 1}, environ={})


def test_migrations_reach_head_and_match_models(engine):
    assert at_head(engine)
    assert head_revision() is not None
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_models_and_migrations_agree(engine):
    """Autogenerate against the migrated database finds nothing to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_clock_start_is_development_only(tmp_path, settings_overrides):
    with pytest.raises(ConfigurationError, match="CLOCK_START"):
        create_app(dict(settings_overrides, clock_start="2026-11-24T10:00:00-06:00"))
    app = create_app({"development": True, "instance_path": tmp_path, "clock_start": "2026-11-24T10:00:00-06:00"})
    now = app.extensions["supportline"].now()
    assert abs((now - datetime(2026, 11, 24, 16, 0, tzinfo=UTC)).total_seconds()) < 60


def test_processes_given_one_clock_anchor_share_one_clock():
    """Two processes started 90 s apart with the same SUPPORTLINE_CLOCK_ANCHOR read the same instant."""
    import time as real_time

    from webhooks.services import shifted_clock

    start = datetime(2026, 11, 24, 16, tzinfo=UTC)
    anchor = real_time.time() - 90  # the run began 90 s ago
    now = shifted_clock(start, anchor)()
    assert 89 < (now - start).total_seconds() < 120  # 90 s on, not "now is the start"
    assert load_settings(environ={"SUPPORTLINE_CLOCK_ANCHOR": "1764000000.5"}).clock_anchor == 1764000000.5


def test_routing_tables_cache_refreshes_in_the_background(engine, session_factory, session):
    """A cached snapshot is served at once; refresh() picks up an admin change."""
    from datetime import date

    from casestore.models import Closure
    from routing.tables import TablesCache

    cache = TablesCache(ttl=3600, tz_name="America/Chicago", sessions=session_factory)
    first = cache.get(session)
    assert cache.get(session) is first
    session.add(Closure(day=date(2026, 12, 30), name="inventory"))
    session.commit()
    assert cache.get(session) is first  # still the snapshot until a refresh
    assert cache.refresh() is True  # the write bumped the routing version
    assert date(2026, 12, 30) in cache.get(session).calendar.closures
    assert cache.refresh() is False  # nothing changed since: one query, no reload


def test_refuses_to_start_without_public_base_url_outside_development(tmp_path, settings_overrides):
    """Without it the signature would be checked against the request's own Host header."""
    with pytest.raises(ConfigurationError, match="PUBLIC_BASE_URL") as err:
        create_app(dict(settings_overrides, public_base_url=""))
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigurationError, match="PUBLIC_BASE_URL"):
        create_app(dict(settings_overrides, public_base_url="ivr.example.com"))  # no scheme: not an address
    assert create_app({"development": True, "instance_path": tmp_path}).extensions["supportline"]


def test_the_expected_waits_default_handle_time_is_a_setting():
    assert load_settings({}, environ={}).expected_handle_seconds == 300.0
    assert load_settings(environ={"EXPECTED_HANDLE_SECONDS": "240"}).expected_handle_seconds == 240.0
    assert "EXPECTED_HANDLE_SECONDS" in " ".join(load_settings({"expected_handle_seconds": 0}).problems())
