"""Setup: the storm's own database, Redis db and secrets, the services' environment, the advisors
(loaded and signed in) and the demo contact every caller is."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from .shared import DB_NAME, DEMO_CONTACT_ID, REDIS_DB, STORM_DIR, BenchError, base

STORM_ADVISOR = "Storm Advisor {:03d}"
STORM_TEAM = "Campus Support"
PROXY_VARS = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "TWILIO_EDGE",
    "TWILIO_REGION",
)


def use_storm_database(redis_port: int = 6379) -> None:
    """Point bench/calls.py's setup helpers at the storm's own database, Redis db and secrets."""
    base.DB_NAME = DB_NAME
    base.DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
    base.REDIS_URL = f"redis://127.0.0.1:{redis_port}/{REDIS_DB}"
    base.SECRETS_FILE = STORM_DIR / "secrets.json"


def storm_env(port: int, secret: dict[str, str], fake_base: str, wrap_up: float) -> dict[str, str]:
    """calls.py's environment (database, Redis, secrets, public URL, clock) plus the REST client
    pointed at the fake carrier, a short wrap-up and the storm's own instance folder (where the
    call-log spool file goes). `port` makes PUBLIC_BASE_URL: with --processes, every process gets
    the first one's, as they would all sit behind one load balancer."""
    env = base.child_env(port, secret)
    for var in PROXY_VARS:  # the REST client must reach 127.0.0.1 directly
        env.pop(var, None)
    env.update(
        TWILIO_ACCOUNT_SID=base.ACCOUNT_SID,
        TWILIO_API_BASE=fake_base,
        WRAP_UP_SECONDS=f"{wrap_up:g}",
        SUPPORTLINE_INSTANCE=str(STORM_DIR / "instance"),
    )
    return env


@dataclass(frozen=True)
class AdvisorRow:
    pk: int
    name: str
    reach: str


def active_advisors() -> list[AdvisorRow]:
    from sqlalchemy import select

    from casestore.db import make_engine
    from casestore.models import Advisor

    engine = make_engine(base.DATABASE_URL)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Advisor.id, Advisor.name, Advisor.reach).where(Advisor.active.is_(True)).order_by(Advisor.id)
            ).all()
    finally:
        engine.dispose()
    return [AdvisorRow(int(pk), name, reach) for pk, name, reach in rows]


def load_storm_advisors(env: dict[str, str], count: int) -> None:
    """ "Storm Advisor 001".."NNN" through `supportline load` (upserts by name: idempotent)."""
    doc = {
        "version": 1,
        "advisors": [
            {
                "name": STORM_ADVISOR.format(i),
                "reach": f"+1612556{i:04d}",
                "team": STORM_TEAM,
                "skills": ["grade_book"],
                "active": True,
            }
            for i in range(1, count + 1)
        ],
    }
    path = STORM_DIR / "advisors.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    res = base.run_cli(["load", str(path)], env)
    if res.returncode != 0:
        raise BenchError(f"`supportline load {path}` failed:\n" + base._tail(res.stderr + res.stdout))


def staff_advisors(env: dict[str, str], wanted: int) -> dict[int, str]:
    """At least `wanted` active advisors (the demo's, then storm advisors); the first `wanted` by
    id signed in, any others signed out. Returns {pk: reach} of the advisors signed in."""
    rows = active_advisors()
    if len(rows) < wanted:
        demo = sum(1 for r in rows if not r.name.startswith(STORM_ADVISOR.split("{")[0]))
        load_storm_advisors(env, wanted - demo)
        rows = active_advisors()
    if len(rows) < wanted:
        raise BenchError(f"only {len(rows)} active advisors after loading storm advisors")
    on, off = rows[:wanted], rows[wanted:]
    for state, group in (("available", on), ("offline", off)):
        if group:
            res = base.run_cli(["presence", "set", state, *(str(r.pk) for r in group)], env)
            if res.returncode != 0:
                raise BenchError(f"`supportline presence set {state}` failed:\n" + base._tail(res.stderr + res.stdout))
    return {r.pk: r.reach for r in on}


def demo_caller() -> tuple[str, str]:
    """(E.164 number, PIN) of the demo contact every storm caller is."""
    from casestore.phones import caller_e164

    doc = yaml.safe_load(base.DEMO_FILE.read_text(encoding="utf-8"))
    contact = next((c for c in doc["contacts"] if str(c["contact_id"]) == DEMO_CONTACT_ID), None)
    number = caller_e164(str(contact["phones"][0])) if contact and contact.get("phones") else None
    if not number:
        raise BenchError(f"{base.DEMO_FILE}: no contact {DEMO_CONTACT_ID} with a phone number")
    return number, str(contact["pin"])
