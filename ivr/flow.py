"""The call flow: (call state, caller input, now) -> TwiML.

One function per step; `handle()` dispatches on the webhook's step name. Steps read data and ask
`routing/` and `auth/` for decisions; writes happen through the named operations in `ivr.actions`.
Nothing private (district, case, names) is said before the caller is verified.

Steps and the URLs Twilio is sent to (every action URL carries `n`, the response counter):
    incoming -> pin | contact-id -> menu (open) | closed (closed hours)
    menu: case number + '#' -> case read-back -> route; 8 -> outage; 0 -> general route; * repeat
    route: owner (whisper-accept) -> next skilled advisor(s) -> hold queue (retries routing)
    outage: open/join outage case -> on-call primary -> secondary -> record a message
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from auth.callers import DEFAULT_LINE_CEILING, Lockout, candidate, contact_by_contact_id, match_caller, verify_pin
from casestore.models import Case, Contact, District, Engineer, FollowUp, Incident
from casestore.phones import caller_e164, mask
from casestore.redisguard import BREAKER, ERRORS
from casestore.types import CaseStatus, Priority
from ivr import actions, holds, incidents, lifecycle, paging, staffing
from ivr.jobs import Jobs
from ivr.prompts import digits_spoken, minutes_spoken, say
from ivr.state import CallState, CallStore, mark, marked
from routing.calendar import status_at
from ivr.dispatch import Dispatcher, Offer, Offers, stale
from routing.callqueue import CallQueue, entry_for, expected_wait_seconds
from routing.oncall import on_call_chain
from routing.presence import DEFAULT_WRAP_SECONDS, Presence
from routing.selection import eligible, preferred_teams
from routing.tables import RoutingTables, TablesCache

log = logging.getLogger("supportline.ivr")

VOICE = "Polly.Joanna"
MAX_FAILURES_PER_CALL = 3
STRICT_PAUSE_SECONDS = 5  # before the PIN prompt while the line is over its PIN-failure ceiling
MAX_NO_INPUT = 2
MAX_CASE_TRIES = 3
MAX_ADVISOR_ATTEMPTS = 2
REOPEN_WINDOW_DAYS = 60
RING_SECONDS = 20
WHISPER_SECONDS = 8
HOLD_SECONDS = 30
BUSY_STATES = {"on_call", "wrap_up"}  # will be free soon: worth waiting for (the case owner)
SIGNED_IN_STATES = {"available", "on_call", "wrap_up"}  # staffing, for the expected wait
MIN_CASE_NUMBER = 10000  # case numbers have at least five digits; menu keys are one digit


@dataclass
class CallInput:
    """What one webhook request carried, already parsed from the form and the query string."""

    step: str
    sid: str
    from_raw: str = ""
    digits: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str = "") -> str:
        return self.query.get(name, default)


@dataclass
class CallEnv:
    """Everything a step may use besides its input; built by the web layer for each request."""

    session: Session
    redis: redis.Redis
    now: datetime
    pin_pepper: str
    tz_name: str = "America/Chicago"
    region: str = "US"
    overflow_number: str = ""
    hold_music_url: str = ""
    tables_cache: TablesCache | None = None
    wrap_seconds: float = DEFAULT_WRAP_SECONDS
    owner_wait_seconds: float = 60.0
    presence: Presence | None = None  # type: ignore[assignment]  # built from `redis` when None
    dispatcher: Dispatcher | None = None  # type: ignore[assignment]  # ditto, without REST
    jobs: Jobs | None = None  # background jobs (outage paging); None: no paging from this env
    pin_failure_ceiling: int = DEFAULT_LINE_CEILING  # line-wide wrong PINs per 10 minutes; 0 = none
    _tables: RoutingTables | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.presence is None:
            self.presence = Presence(self.redis, self.tz_name)
        if self.dispatcher is None:
            self.dispatcher = Dispatcher(
                self.redis, self.presence, telephony=None, connect_url=lambda sid, offer: "/voice/connect",
            )

    @property
    def tables(self) -> RoutingTables:
        """The routing tables for this request (loaded once; cached per process by TablesCache)."""
        if self._tables is None:
            cache = self.tables_cache or TablesCache(ttl=0, tz_name=self.tz_name)
            self._tables = cache.get(self.session)
        return self._tables

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.tz_name)

    @property
    def calls(self) -> CallStore:
        return CallStore(self.redis, session=self.session)

    @property
    def lockout(self) -> Lockout:
        return Lockout(self.redis, session=self.session, ceiling=self.pin_failure_ceiling)

    @property
    def queue(self) -> CallQueue:
        return CallQueue(self.redis)

    def dispatch(self) -> None:
        """Let the dispatcher give any free advisor to the right waiting caller (never raises:
        the caller in front of us must not pay for a problem with someone else's call)."""
        if not BREAKER.usable():
            return
        try:
            self.dispatcher.run(self.tables.advisors, self.now)
        except ERRORS as exc:
            BREAKER.failed(exc)
        except Exception:
            log.exception("dispatch failed")


def _response() -> VoiceResponse:
    return VoiceResponse()


def _say(resp: VoiceResponse | Gather, text: str) -> None:
    resp.say(text, voice=VOICE)


def url(step: str, state: CallState | None = None, **params: object) -> str:
    query = {"n": state.seq} if state is not None else {}
    query.update({k: v for k, v in params.items() if v is not None})
    return f"/voice/{step}" + (f"?{urlencode(query)}" if query else "")


def _gather(
    resp: VoiceResponse,
    state: CallState,
    step: str,
    texts: list[str],
    *,
    num_digits: int | None = None,
    timeout: int = 6,
    finish_on_key: str = "#",
    **params: object,
) -> VoiceResponse:
    """Ask with a keypad Gather; no input falls through to a redirect flagged `noinput=1`."""
    kwargs: dict[str, object] = {
        "input": "dtmf", "action": url(step, state, **params), "method": "POST",
        "timeout": timeout, "finish_on_key": finish_on_key, "action_on_empty_result": False,
    }
    if num_digits:
        kwargs["num_digits"] = num_digits
    gather = resp.gather(**kwargs)
    for text in texts:
        _say(gather, text)
    resp.redirect(url(step, state, noinput=1, **params), method="POST")
    return resp


def _hangup(resp: VoiceResponse, *texts: str) -> VoiceResponse:
    for text in texts:
        _say(resp, text)
    resp.hangup()
    return resp


# --------------------------------------------------------------------------- entry and verification


def incoming(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """Greeting, global banner, then verification by caller ID (PIN) or contact ID + PIN."""
    resp = _response()
    e164 = state.from_e164
    actions.ensure_call_log(env.session, inp.sid, e164, inp.from_raw, env.now)
    state.visit("greeting")
    _say(resp, say("greeting"))
    for banner in _banners(env, district_pk=None):
        _say(resp, banner)
    if env.lockout.locked(env.now, number=e164):
        return _locked_out(env, state, resp)
    match = match_caller(env.session, e164)
    if match.contact_pk is not None:
        state.candidate_pk = match.contact_pk
        return _ask_pin(env, state, resp)
    return _ask_contact_id(state, resp)


def _ask_pin(env: CallEnv, state: CallState, resp: VoiceResponse, *extra: str) -> VoiceResponse:
    state.visit("pin")
    if env.lockout.line_strict(env.now):  # the line is being guessed at: everyone slows down
        resp.pause(length=STRICT_PAUSE_SECONDS)
    return _gather(resp, state, "pin", [*extra, say("ask_pin")], timeout=8)


def _ask_contact_id(state: CallState, resp: VoiceResponse, *extra: str) -> VoiceResponse:
    state.visit("contact_id")
    return _gather(resp, state, "contact-id", [*extra, say("ask_contact_id")], timeout=8)


def _locked_out(env: CallEnv, state: CallState, resp: VoiceResponse) -> VoiceResponse:
    state.visit("locked_out")
    actions.update_call_log(env.session, state.sid, outcome="locked_out", path=list(state.path))
    return _hangup(resp, say("locked_out"))


def _no_input_again(env: CallEnv, state: CallState, key: str) -> bool:
    """Count a no-input on `key`; True when the caller has had their reprompts."""
    return state.bump(f"noinput:{key}") > MAX_NO_INPUT


def contact_id_entered(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    resp = _response()
    digits = _keypad(inp.digits)
    if not digits:
        if _no_input_again(env, state, "contact_id"):
            return _goodbye(env, state, "no_input")
        return _ask_contact_id(state, resp, say("no_input"))
    if env.lockout.locked(env.now, number=state.from_e164, contact_id=digits):
        return _locked_out(env, state, resp)
    state.entered_contact_id = digits[:16]
    contact = contact_by_contact_id(env.session, digits) if digits.isdigit() else None
    state.candidate_pk = contact.id if contact else None
    # Unknown IDs still get asked for a PIN, so the caller cannot tell which part was wrong.
    return _ask_pin(env, state, resp)


def pin_entered(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    resp = _response()
    digits = _keypad(inp.digits)
    if not digits:
        if _no_input_again(env, state, "pin"):
            return _goodbye(env, state, "no_input")
        return _ask_pin(env, state, resp, say("no_input"))
    contact = candidate(env.session, state.candidate_pk)
    # Failures count against the number and against the contact ID, whether it was typed or
    # matched from caller ID, so neither changing numbers nor changing IDs gets more tries.
    counted_id = state.entered_contact_id or (contact.contact_id if contact else None)
    right = verify_pin(env.pin_pepper, contact, digits, counted_id)
    # One atomic step decides whether this try may count and records it against both: parallel
    # calls never get more tries than the limit, and a right PIN past it is refused like a wrong one.
    verdict = env.lockout.attempt(env.now, right, number=state.from_e164, contact_id=counted_id)
    if verdict.refused:
        return _locked_out(env, state, resp)
    if right:
        assert contact is not None
        return _verified(env, state, contact, resp)
    state.failures += 1
    state.ceiling_crossings += verdict.line_crossed
    log.info("pin mismatch call=%s from=%s failures=%d", inp.sid, mask(state.from_e164), state.failures)
    # Over the line-wide ceiling, a call gets one try.
    if verdict.locked or verdict.strict or verdict.line_crossed or state.failures >= MAX_FAILURES_PER_CALL:
        return _locked_out(env, state, resp)
    if state.entered_contact_id is not None or state.candidate_pk is None:
        state.entered_contact_id = None
        state.candidate_pk = None
        return _ask_contact_id(state, resp, say("no_match"))
    return _ask_pin(env, state, resp, say("no_match"))


def _verified(env: CallEnv, state: CallState, contact: Contact, resp: VoiceResponse) -> VoiceResponse:
    district = contact.district
    state.verified_pk = contact.id
    state.district_pk = district.id
    state.district_name = district.name
    state.hosted = bool(district.hosted)
    state.district_team = district.team.name if district.team is not None else None
    state.visit("verified")
    actions.update_call_log(
        env.session, state.sid, contact_id=contact.id, district_id=district.id, path=list(state.path)
    )
    _say(resp, say("verified", name=contact.name.split()[0]))
    for banner in _banners(env, district_pk=district.id):
        _say(resp, banner)
    if state.followup_pk is not None:
        return _followup_menu(env, state, resp)
    return _main_menu(env, state, resp)


def _banners(env: CallEnv, district_pk: int | None) -> list[str]:
    return env.tables.banners_for(env.now, district_pk)


# --------------------------------------------------------------------------- menus and hours


def _main_menu(env: CallEnv, state: CallState, resp: VoiceResponse, *extra: str) -> VoiceResponse:
    status = status_at(env.now, env.tables.calendar)
    if not status.open:
        return _closed(env, state, resp, status, *extra)
    state.visit("menu")
    menu = say("menu_open") if state.hosted else say("menu_open_not_hosted")
    return _gather(resp, state, "menu", [*extra, menu], timeout=7)


def _closed(env: CallEnv, state: CallState, resp: VoiceResponse, status, *extra: str) -> VoiceResponse:
    state.visit("closed")
    reason = (
        say("closed_holiday", holiday=status.holiday_name)
        if status.holiday_name
        else say("closed_hours")
    )
    if state.hosted:
        return _gather(
            resp, state, "closed", [*extra, reason, say("closed_outage_offer"), say("submit_online")],
            num_digits=1, timeout=7,
        )
    actions.update_call_log(env.session, state.sid, outcome="closed", path=list(state.path))
    return _hangup(resp, *extra, reason, say("submit_online"), say("goodbye"))


def closed_entered(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    digits = _keypad(inp.digits)
    if digits == "8" and state.hosted:
        return _outage(env, inp, state)
    if not digits and not _no_input_again(env, state, "closed"):
        return _main_menu(env, state, _response())
    actions.update_call_log(env.session, state.sid, outcome="closed", path=list(state.path))
    return _hangup(_response(), say("submit_online"), say("goodbye"))


def menu_entered(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    resp = _response()
    raw = (inp.digits or "").strip()
    digits = _keypad(raw)
    if inp.arg("noinput") and not raw:
        if _no_input_again(env, state, "menu"):
            return _goodbye(env, state, "no_input")
        return _main_menu(env, state, resp, say("no_input"))
    if "*" in raw:
        return _main_menu(env, state, resp)
    if digits == "8":
        if state.hosted:
            return _outage(env, inp, state)
        state.visit("outage_not_hosted")
        return _main_menu(env, state, resp, say("outage_not_hosted"))
    if digits == "0":
        state.skill = None
        state.case_pk = None
        state.route = "general"
        return _route(env, state, resp)
    if digits.isdigit() and len(digits) >= len(str(MIN_CASE_NUMBER)) and len(digits) <= 9:
        return _case_entered(env, state, resp, int(digits))
    if state.bump("menu_junk") > MAX_CASE_TRIES:
        return _goodbye(env, state, "not_recognized")
    return _main_menu(env, state, resp, say("not_recognized"))


def _goodbye(env: CallEnv, state: CallState, key: str) -> VoiceResponse:
    state.visit("goodbye")
    actions.update_call_log(
        env.session, state.sid, only_if_in_progress=True,
        outcome="no_input" if key == "no_input" else "ended_in_menu", path=list(state.path),
    )
    return _hangup(_response(), say(key), say("submit_online"), say("goodbye"))


# --------------------------------------------------------------------------- cases


def _case_entered(env: CallEnv, state: CallState, resp: VoiceResponse, number: int) -> VoiceResponse:
    assert state.district_pk is not None
    case = actions.case_for_district(env.session, number, state.district_pk)
    if case is None:
        state.visit("case_not_found")
        if state.bump("case") >= MAX_CASE_TRIES:
            state.route = "general"
            state.skill = None
            return _route(env, state, resp, say("case_not_found"), say("connecting_advisor"))
        return _main_menu(env, state, resp, say("case_not_found"))
    state.case_pk = case.id
    state.case_number = case.number
    state.skill = case.product_area.value
    state.visit("case")
    actions.update_call_log(env.session, state.sid, case_id=case.id, skill=state.skill, path=list(state.path))
    state.owner_pk = case.owner_id
    state.priority_rank = case.priority.rank
    state.response_due = (case.response_due_at.isoformat()
                          if case.response_due_at is not None and case.responded_at is None else None)
    if case.id not in state.logged_cases:
        state.logged_cases.append(case.id)
        actions.log_case_event(
            env.session, case, at=env.now, kind="call", call_sid=state.sid,
            contact_pk=state.verified_pk, outcome="in_progress",
            detail="Inbound call from the authorized contact.",
        )
    readback = say("case_readback", number_spoken=digits_spoken(case.number), status=case.status.spoken)
    if case.status == CaseStatus.CLOSED:
        return _closed_case(env, state, resp, case, readback)
    extra = [readback]
    if case.status == CaseStatus.AVAILABLE_IN_RELEASE and case.release_name:
        extra.append(say("case_release", release=case.release_name))
    extra.append(say("in_writing"))
    state.route = "owner" if case.owner_id else "advisor"
    return _route(env, state, resp, *extra)


def reopen_window_open(closed_at: datetime | None, now: datetime, tz: ZoneInfo) -> bool:
    """Closed 60 local calendar days ago or less."""
    if closed_at is None:
        return False
    days = (now.astimezone(tz).date() - closed_at.astimezone(tz).date()).days
    return days <= REOPEN_WINDOW_DAYS


def _closed_case(env: CallEnv, state: CallState, resp: VoiceResponse, case: Case, readback: str) -> VoiceResponse:
    if not reopen_window_open(case.closed_at, env.now, env.tz):
        state.visit("case_too_old")
        return _main_menu(env, state, resp, readback, say("case_too_old"))
    state.visit("reopen_offer")
    closed_on = case.closed_at.astimezone(env.tz).strftime("%B %d") if case.closed_at else ""
    return _gather(
        resp, state, "reopen", [readback, say("case_closed_reopen", closed_on=closed_on)],
        num_digits=1, timeout=7,
    )


def reopen_entered(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    resp = _response()
    digits = _keypad(inp.digits)
    case = env.session.get(Case, state.case_pk) if state.case_pk else None
    if case is None:
        return _main_menu(env, state, resp)
    if digits == "1" and case.status == CaseStatus.CLOSED and reopen_window_open(case.closed_at, env.now, env.tz):
        actions.reopen_case(env.session, case, now=env.now, sid=state.sid, contact_pk=state.verified_pk)
        state.visit("reopened")
        state.route = "owner" if case.owner_id else "advisor"
        return _route(env, state, resp, say("case_reopened"))
    if not digits and inp.arg("noinput") and not _no_input_again(env, state, "reopen"):
        return _closed_case(
            env, state, resp, case,
            say("case_readback", number_spoken=digits_spoken(case.number), status=case.status.spoken),
        )
    return _main_menu(env, state, resp)


# --------------------------------------------------------------------------- routing to people


def _preferred_teams(env: CallEnv, state: CallState) -> tuple[str, ...]:
    return preferred_teams(state.district_team, state.skill, env.tables.teams)


def _route(env: CallEnv, state: CallState, resp: VoiceResponse, *extra: str) -> VoiceResponse:
    """Put the call through: the owner if free, else the best free advisor, else the line.

    Taking an advisor is atomic (`Presence.reserve`), so two calls never hold the same person.
    While others are waiting for the same advisors, a new caller joins the line behind them
    instead of jumping it (the dispatcher serves the line in order, this caller included).
    """
    for text in extra:
        _say(resp, text)
    if not BREAKER.usable():
        return _hunt(env, state, resp)
    try:
        pk = _reserve(env, state)
    except ERRORS as exc:
        BREAKER.failed(exc)
        return _hunt(env, state, resp)
    if pk is None:
        return _queue(env, state, resp)
    return _dial_advisor(env, state, resp, pk)


def _hunt(env: CallEnv, state: CallState, resp: VoiceResponse) -> VoiceResponse:
    """Degraded mode (Redis unreachable: no presence, no line): ring the owner, then skilled
    advisors in team order, each once, reserving each in the database (`ivr.holds`) so two calls
    never get the same advisor; then take a message for an advisor."""
    state.visit("degraded_route")
    candidates: list[int] = []
    if state.route == "owner":
        owner = env.tables.advisor(state.owner_pk)
        if owner is not None and owner.target not in state.tried:
            candidates.append(owner.pk)
        state.route = "advisor"
    if state.round_attempts < MAX_ADVISOR_ATTEMPTS + 1:
        teams = _preferred_teams(env, state)
        pool = [a for a in env.tables.advisors if eligible(a, state.skill) and a.target not in state.tried]
        pool.sort(key=lambda a: (teams.index(a.team) if a.team in teams else len(teams), a.pk))
        if pool:
            # No presence to pick the longest idle: start each call at its own place in the team
            # so that concurrent calls do not all race for the same first advisor.
            first_team = [a for a in pool if a.team == pool[0].team]
            start = int(hashlib.sha1(state.sid.encode()).hexdigest(), 16) % len(first_team)
            ordered = first_team[start:] + first_team[:start] + pool[len(first_team):]
            candidates += [a.pk for a in ordered if a.pk not in candidates]
    busy = holds.busy(env.session, env.now, candidates)
    for pk in candidates:
        if pk not in busy and holds.claim(env.session, pk, state.sid, env.now) == holds.TAKEN:
            return _dial_advisor(env, state, resp, pk, claimed=True)
    state.visit("queue_record")
    _say(resp, say("degraded_busy"))
    _say(resp, say("queue_record"))
    if state.queued_at is None:
        state.queued_at = env.now.isoformat()
    resp.record(action=url("queue-message", state), method="POST", max_length=120, timeout=5,
                finish_on_key="#", play_beep=True)
    resp.redirect(url("queue-message", state, noinput=1), method="POST")
    return resp


def _quiet(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A shared-state side effect that must not fail the call while Redis is unreachable (presence
    converges later: `reconcile` runs every 30 s once Redis is back)."""
    if not BREAKER.usable():
        return None
    try:
        result = fn(*args, **kwargs)
        BREAKER.succeeded()
        return result
    except ERRORS as exc:
        BREAKER.failed(exc)
        log.warning("skipped %s: Redis unreachable", getattr(fn, "__name__", "a Redis update"))
        return None


def _reserve(env: CallEnv, state: CallState) -> int | None:
    presence = env.presence
    if state.route == "owner":
        owner = env.tables.advisor(state.owner_pk)  # active advisors only
        if owner is not None and owner.target not in state.tried:
            pk = presence.reserve([], skill=None, call_sid=state.sid, now=env.now, owner_pk=owner.pk)
            if pk is not None:
                return pk
            # Busy with another call or wrapping up: wait for them a little, in the line.
            state.owner_waits = presence.get(owner.pk, env.now).state in BUSY_STATES
            if state.owner_waits:
                return None
        state.route = "advisor"
    if state.round_attempts >= MAX_ADVISOR_ATTEMPTS:
        return None
    if _line_competes(env, state):
        return None
    pool = [a for a in env.tables.advisors if a.target not in state.tried]
    return presence.reserve(
        pool, skill=state.skill, preferred_teams=_preferred_teams(env, state), call_sid=state.sid, now=env.now,
    )


def _line_competes(env: CallEnv, state: CallState) -> bool:
    """Is anyone already waiting for the advisors this call would take?"""
    return env.queue.others_waiting_for(state.sid, state.skill)


def _dial_advisor(
    env: CallEnv, state: CallState, resp: VoiceResponse, pk: int, *, claimed: bool = False
) -> VoiceResponse:
    """Ring the advisor reserved for this call, with the whisper-accept on their leg. The Redis
    reservation is confirmed by a hold in the database (`claimed`: taken already, in degraded mode)."""
    _quiet(env.queue.leave, state.sid)
    advisor = env.tables.advisor(pk)
    if advisor is None:  # removed from the roster while reserved: let them go, try again
        _quiet(env.presence.release, pk, state.sid, env.now, missed=False)
        state.tried.append(f"advisor:{pk}")
        return _route(env, state, resp)
    claim = holds.TAKEN if claimed else holds.claim(env.session, pk, state.sid, env.now)
    if claim != holds.TAKEN:
        other = holds.busy(env.session, env.now, [pk]).get(pk) if claim == holds.HELD else None
        if other is not None:
            # Busy with a call put through while Redis was unreachable, which presence does not
            # know of: presence follows the database, and this call tries someone else.
            _quiet(staffing.adopt_hold, env.presence, other, env.now, replacing=state.sid)
            log.warning("advisor %s reserved for call=%s is held for call=%s in the database",
                        pk, state.sid, other.call_sid)
        else:
            # Their hold is being released this instant: leave them free for the next caller.
            _quiet(env.presence.release, pk, state.sid, env.now, missed=False)
        state.tried.append(advisor.target)
        return _route(env, state, resp)
    state.route = "owner" if pk == state.owner_pk else "advisor"
    state.attempt += 1
    if state.route != "owner":
        state.round_attempts += 1
    state.tried.append(advisor.target)
    state.current_target = advisor.target
    state.visit(f"dial_{state.route}")
    _say(resp, say("connecting_owner") if state.route == "owner" else say("connecting_advisor"))
    dial = resp.dial(
        action=url("dial-result", state), method="POST", timeout=RING_SECONDS,
        answer_on_bridge=True, caller_id=None,
    )
    _dial_endpoint(dial, advisor.reach, url("whisper", None, parent=state.sid, a=state.attempt, adv=pk))
    return resp


def _dial_endpoint(dial: Dial, reach: str, whisper_url: str) -> None:
    if reach.startswith("client:"):
        dial.client(reach.split(":", 1)[1], url=whisper_url, method="POST")
    elif reach.startswith("sip:"):
        dial.sip(reach, url=whisper_url, method="POST")
    else:
        dial.number(reach, url=whisper_url, method="POST")


def _queue(env: CallEnv, state: CallState, resp: VoiceResponse) -> VoiceResponse:
    """Nobody fitting is free: join the line (keeping any earlier place), let the dispatcher serve
    the line in order, and if this caller's turn has not come, tell position and expected wait.
    The line lives in Redis: while it is unreachable, the degraded hunt (`_hunt`) instead."""
    if not BREAKER.usable():
        return _hunt(env, state, resp)
    try:
        return _join_line(env, state, resp)
    except ERRORS as exc:
        BREAKER.failed(exc)
        return _hunt(env, state, resp)


def _join_line(env: CallEnv, state: CallState, resp: VoiceResponse) -> VoiceResponse:
    if state.queued_at is None:
        state.queued_at = env.now.isoformat()
        actions.set_queued_at(env.session, state.sid, env.now)
    queued_at = datetime.fromisoformat(state.queued_at)
    rank = state.priority_rank if state.priority_rank is not None else Priority.MEDIUM.rank
    Offers(env.redis).clear_taken(state.sid)
    env.queue.join(entry_for(
        state.sid, priority_rank=rank, queued_at=queued_at, skill=state.skill,
        teams=_preferred_teams(env, state), owner_pk=state.owner_pk,
        owner_waits=state.owner_waits, owner_wait_seconds=env.owner_wait_seconds,
        exclude=tuple(pk for t in state.tried if (pk := _target_pk(t, "advisor")) is not None),
        exclude_until=env.now + timedelta(seconds=HOLD_SECONDS),
        due_at=datetime.fromisoformat(state.response_due) if state.response_due else None,
    ))
    offer = _my_offer(env, state)
    if offer is not None:
        return _dial_advisor(env, state, resp, offer.advisor_pk)
    return _hold(env, state, resp)


def _my_offer(env: CallEnv, state: CallState) -> Offer | None:
    """An advisor reserved for this caller: one the dispatcher made for it earlier and whose
    carrier redirect is not coming (no REST client, or it is overdue), or one made just now."""
    offers = Offers(env.redis)
    pending = offers.get(state.sid)
    if pending is not None:
        if env.dispatcher.telephony is not None and not stale(pending, env.now):
            return None  # the redirect to /voice/connect is on its way
        return _valid_offer(env, state, offers.take(state.sid, pending.token))
    result = env.dispatcher.run(env.tables.advisors, env.now, own_sid=state.sid)
    if result.own is None:
        return None
    return _valid_offer(env, state, offers.take(state.sid, result.own.token))


def _valid_offer(env: CallEnv, state: CallState, offer: Offer | None) -> Offer | None:
    if offer is None:
        return None
    held = env.presence.get(offer.advisor_pk, env.now)
    if held.state != "on_call" or held.call_sid != state.sid:
        return None
    return offer


def _hold(env: CallEnv, state: CallState, resp: VoiceResponse) -> VoiceResponse:
    """One hold round: position (and expected wait), the way out (press 1), hold audio, then ask
    again. Any key interrupts; a dispatcher redirect interrupts too."""
    entry = env.queue.get(state.sid)
    position = env.queue.position(entry) if entry is not None else 1
    staffed = sum(
        1 for p in env.presence.snapshot([a.pk for a in env.tables.advisors if eligible(a, state.skill)], env.now).values()
        if p.state in SIGNED_IN_STATES
    )
    wait = expected_wait_seconds(
        position, staffed, actions.recent_handle_seconds(env.session, env.redis, state.skill, env.now, env.wrap_seconds),
    )
    first_round = "queue" not in state.path
    state.visit("queue")
    gather = resp.gather(
        input="dtmf", num_digits=1, timeout=1, action=url("queue-menu", state), method="POST",
        action_on_empty_result=False,
    )
    if wait is None:
        key = "queue_position_no_estimate" if first_round else "queue_still_waiting"
        _say(gather, say(key, position=position))
    else:
        key = "queue_position" if first_round else "queue_still_waiting_wait"
        _say(gather, say(key, position=position, wait=minutes_spoken(wait)))
    _say(gather, say("queue_options"))
    if env.hold_music_url:
        gather.play(env.hold_music_url)
    else:
        gather.pause(length=HOLD_SECONDS)
    # The next round starts afresh: the owner (if still preferred) and advisors may be tried again.
    state.tried = []
    state.round_attempts = 0
    resp.redirect(url("queue", state), method="POST")
    return resp


def queue_wait(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """A hold round ended: this caller's turn if an advisor is reserved for them, else hold on."""
    resp = _response()
    if not BREAKER.usable() or _quiet(env.queue.get, state.sid) is None:
        return _route(env, state, resp)  # not in line (back from a missed advisor; Redis lost): route
    try:
        offer = _my_offer(env, state)
    except ERRORS as exc:  # Redis went away since the read above: the degraded hunt
        BREAKER.failed(exc)
        return _route(env, state, resp)
    if offer is not None:
        return _dial_advisor(env, state, resp, offer.advisor_pk)
    return _hold(env, state, resp)


def connect(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """The dispatcher redirected this waiting call here (REST): dial the advisor it reserved."""
    resp = _response()
    pk = inp.arg("adv")
    try:
        offer = _valid_offer(env, state, Offers(env.redis).take(state.sid, inp.arg("o")))
    except ERRORS as exc:  # Redis went away after the dispatcher's redirect: the degraded hunt
        BREAKER.failed(exc)
        return _route(env, state, resp)
    if offer is None or str(offer.advisor_pk) != pk:
        if state.queued_at is not None:
            return _queue(env, state, resp)
        return _route(env, state, resp)
    return _dial_advisor(env, state, resp, offer.advisor_pk)


def queue_menu(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """Pressed a key while holding: 1 offers a message or a callback; the caller keeps their place
    in line while choosing (and an advisor who comes free still takes the call)."""
    digits = _keypad(inp.digits)
    resp = _response()
    if inp.arg("stage") != "choose":
        if digits != "1":
            return _queue(env, state, resp)
        state.visit("queue_choices")
        key = "queue_choices" if state.from_e164 else "queue_choices_no_callback"
        return _gather(resp, state, "queue-menu", [say(key)], num_digits=1, timeout=6, stage="choose")
    if digits == "1":
        state.visit("queue_record")
        _say(resp, say("queue_record"))
        resp.record(action=url("queue-message", state), method="POST", max_length=120, timeout=5,
                    finish_on_key="#", play_beep=True)
        resp.redirect(url("queue-message", state, noinput=1), method="POST")
        return resp
    if digits == "2" and state.from_e164:
        _leave_for_task(env, state, kind="callback", recording_url=None)
        state.visit("callback_requested")
        return _hangup(resp, say("queue_callback_saved", last4=digits_spoken(state.from_e164[-4:])))
    if BREAKER.usable():  # else there is no line to be back in (`_queue` hunts instead)
        _say(resp, say("queue_back"))
    return _queue(env, state, resp)


def queue_message(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """The caller's message from the line (or the degraded hunt). Silence at the beep goes back to
    the line; while Redis is unreachable there is no line, so a callback task is kept instead."""
    recording_url = inp.form.get("RecordingUrl", "")
    resp = _response()
    if not recording_url and not BREAKER.usable():
        _leave_for_task(env, state, kind="callback", recording_url=None)
        state.visit("callback_requested")
        if state.from_e164:
            return _hangup(resp, say("queue_callback_saved", last4=digits_spoken(state.from_e164[-4:])))
        return _hangup(resp, say("degraded_callback_saved"))
    if not recording_url:
        _say(resp, say("queue_no_message"))
        return _queue(env, state, resp)
    _leave_for_task(env, state, kind="message", recording_url=recording_url)
    state.visit("message_recorded")
    return _hangup(resp, say("queue_message_saved"))


def _leave_for_task(env: CallEnv, state: CallState, *, kind: str, recording_url: str | None) -> None:
    """Out of the line, into the task list at the same place (priority, first queue time)."""
    _quiet(env.queue.leave, state.sid)
    late = _quiet(Offers(env.redis).take, state.sid)
    if late is not None:  # an advisor was reserved meanwhile: let them take the next caller
        _quiet(env.presence.release, late.advisor_pk, state.sid, env.now, missed=False)
    queued_at = datetime.fromisoformat(state.queued_at) if state.queued_at else env.now
    rank = state.priority_rank if state.priority_rank is not None else Priority.MEDIUM.rank
    actions.add_callback_task(
        env.session, kind=kind, sid=state.sid, case_pk=state.case_pk, district_pk=state.district_pk,
        contact_pk=state.verified_pk, callback_e164=state.from_e164 if kind == "callback" else None,
        recording_url=recording_url, skill=state.skill, priority_rank=rank, queued_at=queued_at, now=env.now,
    )
    outcome = "callback_requested" if kind == "callback" else "message_recorded"
    actions.update_call_log(env.session, state.sid, outcome=outcome, recording_url=recording_url,
                            path=list(state.path))
    _finish_case_event(env, state, outcome=outcome, advisor_pk=None)
    env.dispatch()


def dial_result(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """After a Dial: connected and accepted means the call is done; anything else tries the next."""
    dial_status = inp.form.get("DialCallStatus", "")
    accepted = _accepted(env, state.sid, state.attempt)
    target = state.current_target or ""
    advisor_pk = _target_pk(target, "advisor")
    if accepted and dial_status in {"completed", "answered"}:
        _talk_ended(env, inp, state, advisor_pk)
        return _hangup(_response(), say("call_ended"))
    _ring_missed(env, state, advisor_pk, dial_status)
    resp = _response()
    if state.route == "oncall":
        return _outage_next(env, state, resp)
    prefix = say("owner_unavailable") if state.route == "owner" else say("advisor_unavailable")
    if state.route == "owner":
        state.route = "advisor"
        state.owner_waits = False
    result = _route(env, state, resp, prefix)
    env.dispatch()  # the advisor who missed is free again (unless paused) for someone waiting
    return result


def _talk_ended(env: CallEnv, inp: CallInput, state: CallState, advisor_pk: int | None) -> None:
    """The caller talked with the person dialled: the call log says connected, the advisor wraps
    up (presence and hold), and the line is served."""
    talk = _int(inp.form.get("DialCallDuration"))
    waited = 0
    if state.queued_at is not None:
        waited = max(0, int((env.now - datetime.fromisoformat(state.queued_at)).total_seconds()) - talk)
    actions.update_call_log(
        env.session, state.sid, outcome="connected", talk_seconds=talk, wait_seconds=waited,
        advisor_id=advisor_pk, path=list(state.path),
    )
    _finish_case_event(env, state, outcome="connected", advisor_pk=advisor_pk)
    if state.case_pk is not None:
        actions.mark_responded(env.session, state.case_pk, env.now)
    if advisor_pk is not None:
        holds.end(env.session, advisor_pk, state.sid, env.now + timedelta(seconds=env.wrap_seconds))
        _quiet(env.presence.call_ended, advisor_pk, env.now, env.wrap_seconds, call_sid=state.sid)
        env.dispatch()
    state.visit("done")


def _ring_missed(env: CallEnv, state: CallState, advisor_pk: int | None, dial_status: str) -> None:
    """The person dialled did not take the call: they are free again at once (a miss toward the
    autopause)."""
    state.visit(f"missed_{state.route}")
    log.info("dial not accepted call=%s target=%s status=%s", state.sid, state.current_target or "",
             dial_status or "none")
    if advisor_pk is not None:
        holds.end(env.session, advisor_pk, state.sid, env.now)
        if _quiet(env.presence.release, advisor_pk, state.sid, env.now, missed=True) == "away":
            staffing.note_autopause(env.session, advisor_pk, env.now, _autopause_reason(env))


def replay_end(env: CallEnv, inp: CallInput, state: CallState | None) -> StepResult:
    """A call's end heard while the database was down (`ivr.spool`), applied once it is back, at
    the time it arrived (`env.now`): the same operations as the live `dial-result` and `status`
    steps, but nothing is routed or said (the caller got the fallback then; the call is over).
    A Dial that was not taken leaves the call log's outcome "fallback" (the caller heard it)."""
    if inp.step == "status":
        call_status(env, inp, state)
        return StepResult("", forget=True)
    if state is None:
        # Its final status came first (live, once the database was back: it closed the row as
        # hung up or abandoned and dropped the state): the talk this Dial result reports is what
        # happened on the call.
        talk = _int(inp.form.get("DialCallDuration"))
        if inp.form.get("DialCallStatus") in {"completed", "answered"} and talk > 0:
            actions.update_call_log(env.session, inp.sid, only_if_outcome_in=("in_progress", "hung_up", "abandoned"),
                                    outcome="connected", talk_seconds=talk)
        _conversation_over(env, inp)
        return StepResult("")
    advisor_pk = _target_pk(state.current_target or "", "advisor")
    dial_status = inp.form.get("DialCallStatus", "")
    if _accepted(env, state.sid, state.attempt) and dial_status in {"completed", "answered"}:
        _talk_ended(env, inp, state, advisor_pk)
    else:
        _ring_missed(env, state, advisor_pk, dial_status)
        actions.update_call_log(env.session, state.sid, only_if_in_progress=True, outcome="fallback",
                                path=list(state.path))
    return StepResult("", state=state)


def _finish_case_event(env: CallEnv, state: CallState, *, outcome: str, advisor_pk: int | None) -> None:
    if state.case_pk is not None:
        actions.finish_call_event(env.session, state.case_pk, state.sid, outcome=outcome, advisor_pk=advisor_pk)


def _accepted(env: CallEnv, sid: str, attempt: int) -> bool:
    return marked(env.session, env.redis, f"sl:accept:{sid}:{attempt}")


def _target_pk(target: str, kind: str) -> int | None:
    prefix = f"{kind}:"
    return int(target[len(prefix):]) if target.startswith(prefix) else None


# --------------------------------------------------------------------------- whisper (callee leg)


def whisper(env: CallEnv, inp: CallInput, state: CallState | None) -> VoiceResponse:
    """Said to the advisor or engineer who answered, before the caller is bridged."""
    parent = inp.arg("parent")
    attempt = inp.arg("a")
    parent_state = env.calls.load(parent) if parent else None
    resp = _response()
    if parent_state is None:
        return _hangup(resp, say("whisper_declined"))
    if parent_state.route == "oncall":
        text = say("whisper_outage", district=parent_state.district_name,
                   number_spoken=digits_spoken(parent_state.case_number or ""))
    elif parent_state.case_number:
        text = say("whisper_case", district=parent_state.district_name,
                   number_spoken=digits_spoken(parent_state.case_number))
    else:
        text = say("whisper_general", district=parent_state.district_name)
    gather = resp.gather(
        input="dtmf", num_digits=1, timeout=WHISPER_SECONDS, method="POST",
        action=url("whisper-accept", None, parent=parent, a=attempt, adv=inp.arg("adv") or None,
                   eng=inp.arg("eng") or None),
    )
    _say(gather, text)
    return _hangup(resp, say("whisper_declined"))


def whisper_accept(env: CallEnv, inp: CallInput, state: CallState | None) -> VoiceResponse:
    parent, attempt, adv = inp.arg("parent"), inp.arg("a"), inp.arg("adv")
    if _keypad(inp.digits) == "1" and parent and attempt.isdigit():
        mark(env.session, env.redis, f"sl:accept:{parent}:{attempt}", inp.sid, 6 * 3600, env.now)
        if adv.isdigit():
            _quiet(env.presence.accepted, int(adv), parent, env.now)
        if inp.arg("eng").isdigit():
            _engineer_took_the_call(env, parent, int(inp.arg("eng")), inp.sid)
        return _response()  # an empty response bridges the two legs
    if parent and adv.isdigit():
        # Declined or not confirmed: free the advisor at once (a missed call toward the autopause).
        holds.end(env.session, int(adv), parent, env.now)
        if _quiet(env.presence.release, int(adv), parent, env.now, missed=True) == "away":
            staffing.note_autopause(env.session, int(adv), env.now, _autopause_reason(env))
    return _hangup(_response(), say("whisper_declined"))


def _autopause_reason(env: CallEnv) -> str:
    return f"missed {env.presence.missed_limit} calls in a row"


def _engineer_took_the_call(env: CallEnv, parent: str, engineer_pk: int, leg_sid: str) -> None:
    """An engineer accepted the outage caller: that acknowledges the incident (a keypress)."""
    parent_state = env.calls.load(parent)
    if parent_state is None or parent_state.incident_pk is None:
        return
    incident = env.session.get(Incident, parent_state.incident_pk)
    engineer = env.session.get(Engineer, engineer_pk)
    if incident is not None and engineer is not None:
        if incidents.acknowledge(env.session, incident, engineer, env.now, via="accepted the caller's outage call"):
            paging.stop_ringing(env.session, env.dispatcher.telephony, incident, keep_sid=leg_sid)


# --------------------------------------------------------------------------- option 8


def _outage(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """Option 8: open or join the district's outage case, then ring the on-call chain."""
    district = env.session.get(District, state.district_pk)
    assert district is not None
    resp = _response()
    case, incident, created = actions.open_or_join_outage(
        env.session, env.redis, district=district, now=env.now, sid=state.sid,
        contact_pk=state.verified_pk,
    )
    state.incident_pk = incident.id
    if created:
        lifecycle.set_response_due(case, env.tables.calendar)
        _page_after_commit(env, incident.id)
    state.case_pk = case.id
    state.case_number = case.number
    state.route = "oncall"
    state.tried = []
    state.visit("outage")
    actions.update_call_log(env.session, state.sid, case_id=case.id, path=list(state.path))
    key = "outage_opened" if created else "outage_joined"
    _say(resp, say(key, number_spoken=digits_spoken(case.number)))
    return _outage_next(env, state, resp)


def _page_after_commit(env: CallEnv, incident_pk: int) -> None:
    """Start paging once the incident is committed (the job reads it). If Redis refuses now, the
    worker's sweep starts it later: an incident never goes unpaged."""
    jobs = env.jobs
    if jobs is None:
        return

    def start(_session) -> None:
        try:
            paging.start(jobs, incident_pk)
        except Exception:
            log.exception("could not start paging for incident %s; the worker's sweep will", incident_pk)

    sa_event.listen(env.session, "after_commit", start, once=True)


def _outage_next(env: CallEnv, state: CallState, resp: VoiceResponse) -> VoiceResponse:
    tables = env.tables
    for shift in on_call_chain(tables.rotations, env.now):
        engineer = tables.engineers.get(shift.engineer)
        if engineer is None or f"engineer:{engineer.pk}" in state.tried:
            continue
        state.attempt += 1
        state.tried.append(f"engineer:{engineer.pk}")
        state.current_target = f"engineer:{engineer.pk}"
        state.visit("dial_oncall")
        _say(resp, say("outage_connecting"))
        dial = resp.dial(action=url("dial-result", state), method="POST", timeout=RING_SECONDS, answer_on_bridge=True)
        _dial_endpoint(dial, engineer.phone, url("whisper", None, parent=state.sid, a=state.attempt, eng=engineer.pk))
        return resp
    state.visit("outage_record")
    _say(resp, say("outage_record"))
    resp.record(
        action=url("recording", state), method="POST", max_length=120, timeout=5,
        finish_on_key="#", play_beep=True,
    )
    resp.redirect(url("recording", state, noinput=1), method="POST")
    return resp


def recording_done(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    recording_url = inp.form.get("RecordingUrl", "")
    case = env.session.get(Case, state.case_pk) if state.case_pk else None
    state.visit("recorded" if recording_url else "no_recording")
    if recording_url and state.incident_pk is not None:
        incident = env.session.get(Incident, state.incident_pk)
        if incident is not None:
            incident.recording_url = recording_url
            incidents.note(env.session, incident, env.now, "caller_message",
                           f"The caller left a voice message: {recording_url}", call_sid=state.sid)
    if recording_url and case is not None:
        actions.log_case_event(
            env.session, case, at=env.now, kind="recording", call_sid=state.sid,
            contact_pk=state.verified_pk, outcome="callback_requested",
            detail=f"Voice message: {recording_url} ({_int(inp.form.get('RecordingDuration'))} s)",
        )
    actions.update_call_log(
        env.session, state.sid, outcome="message_recorded" if recording_url else "callback_pending",
        recording_url=recording_url or None, path=list(state.path),
    )
    _finish_case_event(env, state, outcome="callback_requested", advisor_pk=None)
    key = "outage_recorded" if recording_url else "outage_no_recording"
    return _hangup(_response(), say(key))


# --------------------------------------------------------------------------- follow-up calls (3 x 10)


def followup_answered(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """Our outbound follow-up call was answered: verify the contact (PIN) before saying anything
    about the case; a voicemail greeting gets a notice with nothing private in it."""
    resp = _response()
    actions.ensure_call_log(env.session, inp.sid, state.from_e164, inp.form.get("To", ""), env.now)
    row = env.session.get(FollowUp, int(inp.arg("fu"))) if inp.arg("fu").isdigit() else None
    case = env.session.get(Case, row.case_id) if row is not None else None
    answered_by = inp.form.get("AnsweredBy", "")
    if row is None or case is None or case.status != CaseStatus.PENDING_VERIFICATION or case.contact_id is None:
        state.visit("followup_stale")
        return _hangup(resp, say("followup_stale"))
    if answered_by.startswith("machine") or answered_by == "fax":
        row.result = row.result or "voicemail"
        state.visit("followup_voicemail")
        return _hangup(resp, say("followup_voicemail"))
    state.followup_pk = row.id
    state.candidate_pk = case.contact_id
    state.visit("followup")
    _say(resp, say("followup_greeting"))
    return _ask_pin(env, state, resp)


def _followup_menu(env: CallEnv, state: CallState, resp: VoiceResponse, *extra: str) -> VoiceResponse:
    row = env.session.get(FollowUp, state.followup_pk)
    case = env.session.get(Case, row.case_id) if row is not None else None
    if case is None or case.status != CaseStatus.PENDING_VERIFICATION:
        return _hangup(resp, say("followup_stale"))
    state.visit("followup_menu")
    text = say("followup_menu", number_spoken=digits_spoken(case.number), district=case.district.name)
    return _gather(resp, state, "followup-choice", [*extra, text], num_digits=1, timeout=7)


def followup_choice(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """1: resolved (the case closes); 2: an advisor now (routed like an inbound call with the case);
    3: keep it open. The remaining follow-ups stop in every case."""
    resp = _response()
    digits = _keypad(inp.digits)
    row = env.session.get(FollowUp, state.followup_pk) if state.followup_pk else None
    case = env.session.get(Case, row.case_id) if row is not None else None
    if case is None or case.status != CaseStatus.PENDING_VERIFICATION:
        return _hangup(resp, say("followup_stale"))
    who = f"contact:{case.contact.contact_id}" if case.contact else "contact"
    if digits == "1":
        row.result = "resolved"
        lifecycle.close_case(env.session, env.jobs, case, env.now, actor=who,
                             detail="Confirmed resolved by the contact on a follow-up call.")
        state.visit("followup_resolved")
        return _hangup(resp, say("followup_closed", number_spoken=digits_spoken(case.number)))
    if digits == "3":
        row.result = "keep_open"
        lifecycle.keep_open(env.session, case, env.now, actor=who,
                            detail="The contact asked to keep the case open on a follow-up call.")
        state.visit("followup_keep_open")
        return _hangup(resp, say("followup_kept_open", number_spoken=digits_spoken(case.number)))
    if digits == "2":
        row.result = "advisor"
        lifecycle.keep_open(env.session, case, env.now, actor=who,
                            detail="The contact asked for an advisor on a follow-up call.")
        state.followup_pk = None
        state.case_pk, state.case_number = case.id, case.number
        state.skill = case.product_area.value
        state.owner_pk, state.priority_rank = case.owner_id, case.priority.rank
        state.route = "owner" if case.owner_id else "advisor"
        actions.update_call_log(env.session, state.sid, case_id=case.id, skill=state.skill, path=list(state.path))
        if not status_at(env.now, env.tables.calendar).open:
            return _hangup(resp, say("closed_hours"), say("followup_advisor_later"))
        return _route(env, state, resp)
    if _no_input_again(env, state, "followup"):
        return _hangup(resp, say("followup_no_choice"))
    return _followup_menu(env, state, resp, say("not_recognized") if digits else say("no_input"))


# --------------------------------------------------------------------------- status callback


def call_status(env: CallEnv, inp: CallInput, state: CallState | None) -> VoiceResponse:
    """Twilio's final status for the call: close the call-log row, leave the queue, drop state."""
    status = inp.form.get("CallStatus", "")
    row = actions.call_log(env.session, inp.sid)
    if row is not None and status in {"completed", "busy", "failed", "no-answer", "canceled"}:
        if row.ended_at is None:
            row.ended_at = env.now
            row.status = status
            row.duration_seconds = _int(inp.form.get("CallDuration"))
            if row.outcome == "in_progress":
                row.outcome = "abandoned" if row.queued_at is not None else "hung_up"
                if row.queued_at is not None:
                    row.wait_seconds = max(0, int((env.now - row.queued_at).total_seconds()))
            if state is not None:
                row.path = list(state.path)
                if state.case_pk is not None:
                    _finish_case_event(env, state, outcome=row.outcome, advisor_pk=row.advisor_id)
    if status in {"completed", "busy", "failed", "no-answer", "canceled"}:
        holds.end_call(env.session, inp.sid, env.now)
        _quiet(_free_advisors_of, env, inp.sid, state)
    return _response()


def _free_advisors_of(env: CallEnv, sid: str, state: CallState | None) -> None:
    """The call is over: out of the line, any advisor it held freed (wrap-up after a talk, at
    once if it never got past ringing), and the dispatcher told. Idempotent: each change checks
    that the advisor still holds this call."""
    env.queue.leave(sid)
    held: set[int] = set()
    offer = Offers(env.redis).take(sid)
    if offer is not None:
        held.add(offer.advisor_pk)
    if state is not None and (pk := _target_pk(state.current_target or "", "advisor")) is not None:
        held.add(pk)
    for pk in held:
        if env.presence.release(pk, sid, env.now, missed=False) is None:
            env.presence.call_ended(pk, env.now, env.wrap_seconds, call_sid=sid)
    env.dispatch()


# --------------------------------------------------------------------------- dispatch


def _keypad(digits: str | None) -> str:
    """Only keypad characters survive; anything else is junk from a misbehaving client."""
    return "".join(ch for ch in (digits or "") if ch in "0123456789*#").strip("#")


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


Step = Callable[[CallEnv, CallInput, CallState], VoiceResponse]

# Steps that need the call's state; a request for one of them without state restarts the call.
STATEFUL: dict[str, Step] = {
    "pin": pin_entered,
    "contact-id": contact_id_entered,
    "menu": menu_entered,
    "closed": closed_entered,
    "reopen": reopen_entered,
    "dial-result": dial_result,
    "queue": queue_wait,
    "queue-menu": queue_menu,
    "queue-message": queue_message,
    "connect": connect,
    "recording": recording_done,
    "followup-choice": followup_choice,
}
# Steps that may arrive without (or for another call's) state.
STATELESS = {"whisper": whisper, "whisper-accept": whisper_accept, "status": call_status}
VERIFIED_ONLY = {"menu", "closed", "reopen", "dial-result", "queue", "queue-menu", "queue-message",
                 "connect", "recording", "followup-choice"}
STEPS = set(STATEFUL) | set(STATELESS) | {"incoming", "followup"}


@dataclass
class StepResult:
    """A step's TwiML and what to do with the call's state once the database has committed."""

    twiml: str
    state: CallState | None = None  # save this state
    forget: bool = False  # the call is over: drop its state
    cache: bool = True  # keep the answer for a retry of the same request


def handle(env: CallEnv, inp: CallInput, state: CallState | None) -> StepResult:
    """Run one webhook step on the call's current state (loaded by the caller).

    Returns the TwiML and the state to persist; exceptions propagate to the web layer's fallback.
    """
    if inp.step == "incoming":
        state = _fresh_state(env, inp, state)
        resp = incoming(env, inp, state)
    elif inp.step == "followup":
        # Our outbound call: the contact is the called party ("To"), not the caller.
        state = _fresh_state(env, CallInput(step=inp.step, sid=inp.sid, from_raw=inp.form.get("To", "")), state)
        resp = followup_answered(env, inp, state)
    elif inp.step in STATELESS:
        resp = STATELESS[inp.step](env, inp, state)
    else:
        step = STATEFUL.get(inp.step)
        if step is None or state is None or (inp.step in VERIFIED_ONLY and not state.verified):
            # Unknown step, expired or never-seen call, or a verified-only step reached unverified:
            # start over from the greeting (which says nothing private).
            if inp.step == "dial-result" and state is None:
                return StepResult(_conversation_over(env, inp))
            resp = _response()
            # A fresh URL, and the new state's counter starts past this request's `n`, so no
            # later URL of the restarted call meets an answer cached for the lost one; and this
            # redirect itself is not cached (a later request with the same URL must run again).
            n = _int(inp.arg("n")) + 1
            resp.redirect(f"/voice/incoming?restart={uuid.uuid4().hex[:12]}&n={n}", method="POST")
            return StepResult(str(resp), cache=False)
        resp = step(env, inp, state)
    if state is None or inp.step in {"whisper", "whisper-accept"}:
        return StepResult(str(resp))
    if inp.step == "status":
        return StepResult(str(resp), forget=True)
    state.seq += 1
    return StepResult(str(resp), state=state)


def _conversation_over(env: CallEnv, inp: CallInput) -> str:
    """A Dial result for a call whose state is gone (Redis lost it mid-conversation): the call is
    over, not starting again; log what Twilio tells us and hang up."""
    talk = _int(inp.form.get("DialCallDuration"))
    talked = inp.form.get("DialCallStatus") in {"completed", "answered"} and talk > 0
    if talked:
        actions.update_call_log(env.session, inp.sid, only_if_in_progress=True, outcome="connected",
                                talk_seconds=talk)
    wrap = env.wrap_seconds if talked else 0
    for pk in holds.held_by(env.session, inp.sid):  # the advisor it had: wrap-up, then free
        holds.end(env.session, pk, inp.sid, env.now + timedelta(seconds=wrap))
        _quiet(env.presence.call_ended, pk, env.now, wrap, call_sid=inp.sid)
    return str(_hangup(_response(), say("call_ended")))


def _fresh_state(env: CallEnv, inp: CallInput, old: CallState | None) -> CallState:
    """A new call, or a call sent back to the greeting: verification starts again, but the
    call's failure count, response counter and path carry over."""
    state = CallState(
        sid=inp.sid,
        from_e164=caller_e164(inp.from_raw, env.region),
        started_at=env.now.isoformat(),
    )
    if old is None and inp.arg("n").isdigit():
        state.seq = int(inp.arg("n"))  # a restarted call: its URLs never reuse the lost call's
    if old is not None:
        state.from_e164 = old.from_e164
        state.started_at = old.started_at
        state.failures = old.failures
        state.seq = old.seq
        state.path = old.path
    return state
