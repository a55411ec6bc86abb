"""Twilio voice webhooks: `POST /voice/<step>`, the number's Voice URL being `/voice/incoming` and its
status callback `/voice/status`.

The view only parses the request and hands it to `ivr.flow`. It guarantees the contract with
Twilio: unsigned requests get 403 and nothing else happens; every signed request gets 200 and
valid TwiML, whatever it carried; a retried request gets the answer the first one got; and any
fault (database, Redis, a bug) is logged and answered with the apology-and-overflow fallback.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

import redis
from flask import Blueprint, Response, abort, g, request
from sqlalchemy.exc import DBAPIError
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from casestore.db import unreachable as database_unreachable
from casestore.phones import mask
from ivr import flow, spool
from ivr.prompts import say
from ivr.state import CallState, CallStore
from webhooks import metrics, twilio_params
from webhooks.services import current_services
from webhooks.signature import signature_valid

log = logging.getLogger("supportline.voice")

bp = Blueprint("voice", __name__, url_prefix="/voice")


def twiml(body: str) -> Response:
    return Response(body, status=200, mimetype="application/xml")


@bp.before_request
def check_signature():
    svc = current_services()
    if not signature_valid(request, svc.settings):
        log.warning("rejected unsigned or badly signed request to %s", request.path)
        abort(403)
    g.twilio_signed = True


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """403 for anything not proven to come from Twilio; a signed request always gets TwiML."""
    if exc.code == 403 or not g.get("twilio_signed"):
        return Response("forbidden", status=403, mimetype="text/plain")
    log.warning("webhook http error %s on %s", exc.code, request.path)
    return twiml(fallback_twiml(current_services().settings.overflow_number))


@bp.route("/<step>", methods=["POST"])
def webhook(step: str) -> Response:
    """One Twilio request, in order: parse it, note it for the metrics, then the first answer that
    applies: Twilio's Fallback URL, a step we cannot follow, the database known to be down, or the
    call's step (`_answer`)."""
    svc = current_services()
    form = twilio_params.form()  # NULs stripped, lengths bounded, durations clamped: ordinary input
    sid = form.get("CallSid", "")
    metrics.note_webhook(sid)  # latency, counters and the log line: webhooks.metrics, after the response
    inp = flow.CallInput(
        step=step,
        sid=sid,
        from_raw=form.get("From", ""),
        digits=form.get("Digits"),
        query=twilio_params.query(),
        form=form,
    )
    if step == "fallback":
        return _twilio_fallback(svc, inp)
    if step not in flow.STEPS or not sid:
        return _goodbye()
    if not svc.breakers.db.usable():
        return _database_down(svc, inp)
    return _answer(svc, inp, request.full_path.rstrip("?"))


def _twilio_fallback(svc, inp: flow.CallInput) -> Response:
    """Twilio's Fallback URL: used when the primary handler failed. Touches no database or Redis
    (settings, the request and the local hosted-contacts file only: webhooks/fallback.py, imported
    only when it is needed)."""
    from webhooks.fallback import fallback_response

    log.warning("fallback webhook call=%s from=%s", inp.sid, mask(inp.from_raw))
    return twiml(fallback_response(svc.settings, inp.form, inp.query))


def _goodbye() -> Response:
    """Not a call we can follow: say nothing private and end politely."""
    resp = VoiceResponse()
    resp.say(say("goodbye", lang="en"), voice=flow.VOICE)
    resp.hangup()
    return twiml(str(resp))


def _database_down(svc, inp: flow.CallInput) -> Response:
    """The database failed moments ago (the app's database breaker is open): answer the fallback at
    once rather than wait again, and keep the call's trace for when it is back."""
    metrics.note_webhook(inp.sid, "fault")
    _spool(svc, inp)
    return twiml(fallback_twiml(svc.settings.overflow_number, inp.step))


def _answer(svc, inp: flow.CallInput, url: str) -> Response:
    """The call's step: the answer already given to this request if it is a retry, else the flow's
    answer, committed and stored; any fault, the fallback (`_fault`)."""
    outcome = "ok"
    try:
        with svc.sessions() as session:
            # Redis first; while it is unreachable the call state lives in the database.
            store = CallStore(svc.redis, session=session, breaker=svc.breakers.redis)
            answered, state = store.begin(inp.sid, url, may_exist=inp.step in flow.STATEFUL or inp.step == "status")
            if answered is not None and inp.step != "status":
                outcome = "replayed"
                return twiml(answered)
            result, before, ended = _run_step(svc, session, store, inp, url, state)
        metrics.observe_call(before, result.state, ended)
        if svc.spooled.is_set():  # the database is back: what this process spooled goes in now
            replay_spool_in_background(svc)
        return twiml(result.twiml)
    except Exception as exc:
        outcome = "fault"
        return _fault(svc, inp, exc)
    finally:
        metrics.note_webhook(inp.sid, outcome)


def _run_step(
    svc, session, store: CallStore, inp: flow.CallInput, url: str, state: CallState | None
) -> tuple[flow.StepResult, metrics.CallMark, str | None]:
    """Run the flow's step on the call's state, commit, and store the answer and the new state;
    with what the metrics compare: the call's mark before the step, and how the call ended when
    this status callback closed it."""
    before = metrics.CallMark.of(state)
    closing = inp.step == "status" and metrics.call_open(session, inp.sid)
    env = call_env(svc, session, svc.now())
    result = flow.handle(env, inp, state)
    session.commit()
    store.finish(inp.sid, url, result.twiml, result.state, result.forget, now=env.now, cache=result.cache)
    ended = metrics.ended_outcome(session, inp.sid) if closing else None
    return result, before, ended


def _fault(svc, inp: flow.CallInput, exc: Exception) -> Response:
    """Any fault (database, Redis, a bug): logged and answered with the fallback. A database error
    keeps the call's trace (`_spool`), and one that says the database cannot be reached (not one
    transaction's deadlock or conflict) opens the app's database breaker."""
    if isinstance(exc, (DBAPIError, OSError)) and not isinstance(exc, redis.RedisError):
        if database_unreachable(exc):
            svc.breakers.db.failed(exc)
        _spool(svc, inp)
    log.exception("webhook fault step=%s call=%s from=%s", inp.step, inp.sid, mask(inp.from_raw))
    return twiml(fallback_twiml(svc.settings.overflow_number, inp.step))


def call_env(svc, session, now) -> flow.CallEnv:
    """What a step may use besides its input, for one request (or one replayed event)."""
    return flow.CallEnv(
        session=session,
        redis=svc.redis,
        now=now,
        pin_pepper=svc.settings.pin_pepper,
        breakers=svc.breakers,
        tz_name=svc.settings.support_timezone,
        region=svc.settings.default_region,
        overflow_number=svc.settings.overflow_number,
        hold_music_url=svc.settings.hold_music_url,
        tables_cache=svc.tables,
        wrap_seconds=svc.settings.wrap_up_seconds,
        owner_wait_seconds=svc.settings.owner_wait_seconds,
        default_handle_seconds=svc.settings.expected_handle_seconds,
        presence=svc.presence,
        dispatcher=svc.dispatcher,
        jobs=svc.jobs,
        pin_failure_ceiling=svc.settings.pin_failure_ceiling,
    )


# The steps that end a call (or a ring): spooled with their parameters during a database outage
# and applied on replay, so the call-log row is closed and the advisor freed. Only the fields
# those steps read are kept: no phone number reaches the disk unmasked.
END_STEPS = ("dial-result", "status")
END_FIELDS = ("CallStatus", "CallDuration", "DialCallStatus", "DialCallDuration", "DialCallSid")


def _spool(svc, inp: flow.CallInput) -> None:
    """Keep the call's trace, and its end, for when the database is back (`ivr.spool`)."""
    if inp.step in ("whisper", "whisper-accept"):
        return  # the advisor's leg: the caller's own dial-result and status carry its end
    event = None
    if inp.step in END_STEPS:
        event = {"form": {k: inp.form[k] for k in END_FIELDS if k in inp.form}, "query": dict(inp.query)}
    if spool.spool(
        spool_path(svc), sid=inp.sid, from_masked=mask(inp.from_raw), at=svc.now(), step=inp.step, event=event
    ):
        svc.spooled.set()


def spool_path(svc):
    return svc.settings.instance_path / "spool" / "call_log.jsonl"


def apply_spooled_event(svc) -> spool.ApplyEvent:
    """How a spooled call end is applied: the flow's `replay_end` on the call's state, at the time
    the event arrived, through the same operations as the live step."""

    def apply(session, rec: dict) -> None:
        at = datetime.fromisoformat(rec["at"])
        event = rec["event"]
        inp = flow.CallInput(
            step=rec["step"], sid=rec["sid"], form=dict(event.get("form") or {}), query=dict(event.get("query") or {})
        )
        store = CallStore(svc.redis, session=session, breaker=svc.breakers.redis)
        result = flow.replay_end(call_env(svc, session, at), inp, store.load(inp.sid))
        session.flush()
        if result.state is not None or result.forget:
            store.finish(
                inp.sid, f"spool:{inp.step}:{rec['at']}", result.twiml, result.state, result.forget, now=at, cache=False
            )

    return apply


def replay_spool(svc, session) -> int:
    """Replay this host's spool now (the worker's timer and the background thread below)."""
    return spool.replay(session, spool_path(svc), apply_event=apply_spooled_event(svc))


def replay_spool_in_background(svc) -> threading.Thread | None:
    """Replay this host's spool in a daemon thread (one at a time per process): after this process
    spooled and the database answers again, and when a web process starts. None if one is running
    or there is nothing to replay."""
    if not (svc.spooled.is_set() or spool_path(svc).parent.exists()) or not svc.replaying.acquire(blocking=False):
        return None
    svc.spooled.clear()  # records spooled from here on set it again

    def run() -> None:
        try:
            with svc.sessions() as session:
                replay_spool(svc, session)
        except Exception:
            svc.spooled.set()
            log.exception("could not replay the call-log spool (will retry)")
        finally:
            svc.replaying.release()

    thread = threading.Thread(target=run, name="spool-replay", daemon=True)
    thread.start()
    return thread


def fallback_twiml(overflow_number: str, step: str = "") -> str:
    """Said when the service itself is in trouble: apologise, then a person or a way out (and, for
    a hosted district's contact, the on-call outage line on 8). See webhooks/fallback.py."""
    from flask import has_request_context

    from webhooks.fallback import fault_twiml

    settings = from_raw = None
    if has_request_context():
        try:
            settings = current_services().settings
            from_raw = twilio_params.form().get("From")
        except Exception:  # a body that cannot be parsed: the plain apology
            settings = from_raw = None
    return fault_twiml(overflow_number, step, settings=settings, from_raw=from_raw)
