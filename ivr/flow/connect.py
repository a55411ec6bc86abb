"""Routing to people, as the caller hears it: `routing.decision` says who gets the call, and this
carries it out. The owner or the best free advisor (reserved atomically) is rung with the whisper on
their leg; else the caller joins the line and holds (position, expected wait, a message or a
callback); with Redis unreachable, the degraded hunt (claims in the database), else a message.
Then the dial's result: talked (wrap-up), or missed (free them, try the next)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from twilio.twiml.voice_response import VoiceResponse

from casestore.redisguard import ERRORS
from ivr import actions, holds, staffing
from ivr.dispatch import Offer, Offers, stale
from ivr.flow.answers import QUEUE_CHOICE, heard
from ivr.flow.env import CallEnv, CallInput
from ivr.flow.outage import _outage_next
from ivr.flow.shared import (
    RING_SECONDS,
    _accepted,
    _autopause_reason,
    _finish_case_event,
    _leave_task,
    _quiet,
    _target_pk,
    note_ring,
)
from ivr.flow.twiml import _dial_endpoint, _gather, _hangup, _int, _keypad, _response, _say, url
from ivr.flow.waits import expected_wait_for
from ivr.prompts import digits_spoken, minutes_spoken, say
from ivr.state import CallState
from routing.decision import (
    HOLD_ROUND_SECONDS,
    CallFacts,
    Decision,
    DialOwner,
    HoldsView,
    Hunt,
    JoinLine,
    PresenceView,
    ReserveFrom,
    decide,
    join_line,
)

log = logging.getLogger("supportline.ivr")

HOLD_SECONDS = HOLD_ROUND_SECONDS  # a hold round: advisors who just missed the call sit it out
MAX_DECISIONS = 100  # carrying out fails only when someone was taken or left: a loop this long is a bug


def _route(
    env: CallEnv, state: CallState, resp: VoiceResponse, *extra: str, offer: int | None = None, line: bool = False
) -> VoiceResponse:
    """Put the call through: `routing.decision` says who gets it, and this carries that out.

    `offer`: first dial the advisor the dispatcher reserved for this call; `line`: the caller goes
    back in the line (keeping their place) rather than taking an advisor. When carrying a decision
    out fails (the advisor was taken meanwhile, left the roster, is held in the database; Redis went
    away), the facts now say so and routing is asked again: one loop, here.
    """
    for text in extra:
        _say(resp, text)
    if offer is not None and (dialled := _dial_advisor(env, state, resp, offer)) is not None:
        return dialled
    refused: set[int] = set()  # degraded: advisors whose claim this request lost
    for _ in range(MAX_DECISIONS):
        call, wait = _facts(state), env.owner_wait_seconds
        decision: Decision | None = None
        if env.breakers.redis.usable():  # live: presence and the line, in Redis
            try:
                if line:
                    decision = join_line(call, env.tables, env.now, owner_wait_seconds=wait)
                else:
                    decision = decide(call, env.tables, _seen(env, state), env.now, owner_wait_seconds=wait)
            except ERRORS as exc:
                env.breakers.redis.failed(exc)
        if decision is None:  # degraded: Redis unreachable, the database's holds
            decision = decide(call, env.tables, _held(env, refused), env.now)
        line = False
        state.route, state.owner_waits = decision.route, decision.owner_waits
        try:
            done = _carry_out(env, state, resp, decision, refused)
        except ERRORS as exc:  # Redis went away while reserving or joining the line: the degraded hunt
            env.breakers.redis.failed(exc)
            continue
        if done is not None:
            return done
    raise RuntimeError(f"routing call={state.sid} did not settle in {MAX_DECISIONS} decisions")


def _facts(state: CallState) -> CallFacts:
    """What routing needs to know about the call, from its state."""
    return CallFacts(
        sid=state.sid,
        route=state.route,
        skill=state.skill,
        owner_pk=state.owner_pk,
        owner_waits=state.owner_waits,
        district_team=state.district_team,
        tried=tuple(state.tried),
        round_attempts=state.round_attempts,
        priority_rank=state.priority_rank,
        queued_at=datetime.fromisoformat(state.queued_at) if state.queued_at else None,
        response_due=datetime.fromisoformat(state.response_due) if state.response_due else None,
    )


def _seen(env: CallEnv, state: CallState) -> PresenceView:
    """Live presence of the roster, and whether others in line wait for the same advisors."""
    snapshot = env.presence.snapshot([a.pk for a in env.tables.advisors], env.now)
    return PresenceView.of(snapshot, state.sid, line_ahead=env.queue.others_waiting_for(state.sid, state.skill))


def _held(env: CallEnv, refused: set[int]) -> HoldsView:
    """Degraded: who the database says is busy, and whose claim this request lost."""
    busy = holds.busy(env.session, env.now, [a.pk for a in env.tables.advisors])
    return HoldsView(frozenset(busy) | frozenset(refused))


def _carry_out(
    env: CallEnv, state: CallState, resp: VoiceResponse, decision: Decision, refused: set[int]
) -> VoiceResponse | None:
    """Do what routing decided; None when it could not be done (then routing is asked again)."""
    if isinstance(decision, DialOwner | ReserveFrom):  # taken atomically, so two calls never hold one person
        pk = (
            env.presence.reserve([], skill=None, call_sid=state.sid, now=env.now, owner_pk=decision.owner_pk)
            if isinstance(decision, DialOwner)
            else env.presence.reserve(
                decision.pool,
                skill=decision.skill,
                preferred_teams=decision.preferred_teams,
                call_sid=state.sid,
                now=env.now,
            )
        )
        return None if pk is None else _dial_advisor(env, state, resp, pk)
    if isinstance(decision, JoinLine):
        return _join_line(env, state, resp, decision)
    state.visit("degraded_route")
    if isinstance(decision, Hunt):
        for pk in decision.candidates:
            if holds.claim(env.session, pk, state.sid, env.now) == holds.TAKEN:
                return _dial_advisor(env, state, resp, pk, claimed=True)
            refused.add(pk)
        return None
    return _take_message(env, state, resp)


def _take_message(env: CallEnv, state: CallState, resp: VoiceResponse) -> VoiceResponse:
    """Degraded, nobody free to ring: a message for an advisor (silence keeps a callback task)."""
    state.visit("queue_record")
    _say(resp, say("degraded_busy", lang=state.language))
    _say(resp, say("queue_record", lang=state.language))
    if state.queued_at is None:
        state.queued_at = env.now.isoformat()
    resp.record(
        action=url("queue-message", state), method="POST", max_length=120, timeout=5, finish_on_key="#", play_beep=True
    )
    resp.redirect(url("queue-message", state, noinput=1), method="POST")
    return resp


def _dial_advisor(
    env: CallEnv, state: CallState, resp: VoiceResponse, pk: int, *, claimed: bool = False
) -> VoiceResponse | None:
    """Ring the advisor reserved for this call, with the whisper-accept on their leg. The Redis
    reservation is confirmed by a hold in the database (`claimed`: taken already, in degraded mode).
    None when they cannot be rung after all (the facts say why: routing is asked again)."""
    if _quiet(env, env.queue.leave, state.sid):  # out of the line to an advisor: the departures rate
        _quiet(env, env.queue.departed, state.sid, state.skill, env.now)
    advisor = env.tables.advisor(pk)
    if advisor is None:  # removed from the roster while reserved: let them go, try again
        _quiet(env, env.presence.release, pk, state.sid, env.now, missed=False)
        state.tried.append(f"advisor:{pk}")
        return None
    claim = holds.TAKEN if claimed else holds.claim(env.session, pk, state.sid, env.now)
    if claim != holds.TAKEN:
        other = holds.busy(env.session, env.now, [pk]).get(pk) if claim == holds.HELD else None
        if other is not None:
            # Busy with a call put through while Redis was unreachable, which presence does not
            # know of: presence follows the database, and this call tries someone else.
            _quiet(env, staffing.adopt_hold, env.presence, other, env.now, replacing=state.sid)
            log.warning(
                "advisor %s reserved for call=%s is held for call=%s in the database", pk, state.sid, other.call_sid
            )
        else:
            # Their hold is being released this instant: leave them free for the next caller.
            _quiet(env, env.presence.release, pk, state.sid, env.now, missed=False)
        state.tried.append(advisor.target)
        return None
    state.route = "owner" if pk == state.owner_pk else "advisor"
    state.attempt += 1
    if state.route != "owner":
        state.round_attempts += 1
    state.tried.append(advisor.target)
    state.current_target = advisor.target
    state.visit(f"dial_{state.route}")
    _say(resp, say(_connecting_key(state), lang=state.language))
    dial = resp.dial(
        action=url("dial-result", state), method="POST", timeout=RING_SECONDS, answer_on_bridge=True, caller_id=None
    )
    _dial_endpoint(dial, advisor.reach, url("whisper", None, parent=state.sid, a=state.attempt, adv=pk))
    return resp


def _connecting_key(state: CallState) -> str:
    """What the caller hears as a dial starts: the owner, the next available advisor, or (after an
    advisor of this round did not answer) another advisor, not the same sentence again."""
    if state.route == "owner":
        return "connecting_owner"
    return "trying_another_advisor" if state.round_attempts > 1 else "connecting_advisor"


def _queue(env: CallEnv, state: CallState, resp: VoiceResponse) -> VoiceResponse:
    """Back in the line (keeping any earlier place): the dispatcher serves the line in order, and if
    this caller's turn has not come they hear position and expected wait. The line lives in Redis:
    while it is unreachable, the degraded hunt instead."""
    return _route(env, state, resp, line=True)


def _join_line(env: CallEnv, state: CallState, resp: VoiceResponse, decision: JoinLine) -> VoiceResponse | None:
    """Nobody fitting is free (or the caller waits for the owner): join the line, let the dispatcher
    serve it, then this caller's offer is dialled or they hold."""
    if state.queued_at is None:
        state.queued_at = env.now.isoformat()
        actions.set_queued_at(env.session, state.sid, env.now)
    Offers(env.redis).clear_taken(state.sid)
    env.queue.join(decision.entry)
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
    again. Any key interrupts; a dispatcher redirect interrupts too. The keypad only: listening
    for speech through the hold audio would take a word said in the caller's office for an
    answer and restart the round; the choices after 1 listen for speech."""
    entry = env.queue.get(state.sid)
    position = env.queue.position(entry) if entry is not None else 1
    wait = expected_wait_for(env, state, position)
    first_round = "queue" not in state.path
    state.visit("queue")
    gather = resp.gather(
        input="dtmf",
        num_digits=1,
        timeout=1,
        action=url("queue-menu", state),
        method="POST",
        action_on_empty_result=False,
    )
    if wait is None:
        key = "queue_position_no_estimate" if first_round else "queue_still_waiting"
        _say(gather, say(key, lang=state.language, position=position))
    else:
        key = "queue_position" if first_round else "queue_still_waiting_wait"
        _say(gather, say(key, lang=state.language, position=position, wait=minutes_spoken(wait, state.language)))
    _say(gather, say("queue_options", lang=state.language))
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
    """A hold round ended: this caller's turn if an advisor is reserved for them, else hold on. A
    caller not in line (back from a missed advisor; Redis lost) is routed afresh."""
    resp = _response()
    offer = None
    if env.breakers.redis.usable() and _quiet(env, env.queue.get, state.sid) is not None:
        try:
            offer = _my_offer(env, state)
        except ERRORS as exc:  # Redis went away since the read above: the degraded hunt
            env.breakers.redis.failed(exc)
        else:
            if offer is None:
                return _hold(env, state, resp)
    return _route(env, state, resp, offer=offer.advisor_pk if offer is not None else None)


def connect(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """The dispatcher redirected this waiting call here (REST): dial the advisor it reserved; an
    offer gone meanwhile puts a caller who was in line back in it, else routes afresh."""
    resp = _response()
    try:
        offer = _valid_offer(env, state, Offers(env.redis).take(state.sid, inp.arg("o")))
    except ERRORS as exc:  # Redis went away after the dispatcher's redirect: the degraded hunt
        env.breakers.redis.failed(exc)
        offer = None
    if offer is not None and str(offer.advisor_pk) == inp.arg("adv"):
        return _route(env, state, resp, offer=offer.advisor_pk)
    return _route(env, state, resp, line=state.queued_at is not None)  # after a Redis error: the hunt, line or not


def queue_menu(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """Pressed a key while holding: 1 offers a message or a callback (keyed or said); the caller
    keeps their place in line while choosing (and an advisor who comes free still takes the call)."""
    spoken = heard(inp, QUEUE_CHOICE) if inp.arg("stage") == "choose" else None
    digits = spoken.keys if spoken is not None else _keypad(inp.digits)
    resp = _response()
    if inp.arg("stage") != "choose":
        if digits != "1":
            return _queue(env, state, resp)
        state.tries.pop("queue_choices_unclear", None)
        return _queue_choices(state, resp)
    if spoken is not None and spoken.unclear and state.bump("queue_choices_unclear") == 1:
        return _queue_choices(state, resp, say("didnt_catch", lang=state.language))  # once: they are still in line
    if digits == "1":
        state.visit("queue_record")
        _say(resp, say("queue_record", lang=state.language))
        resp.record(
            action=url("queue-message", state),
            method="POST",
            max_length=120,
            timeout=5,
            finish_on_key="#",
            play_beep=True,
        )
        resp.redirect(url("queue-message", state, noinput=1), method="POST")
        return resp
    if digits == "2" and state.from_e164:
        _leave_for_task(env, state, kind="callback", recording_url=None)
        state.visit("callback_requested")
        return _hangup(
            resp, say("queue_callback_saved", lang=state.language, last4=digits_spoken(state.from_e164[-4:]))
        )
    if env.breakers.redis.usable():  # else there is no line to be back in (`_queue` hunts instead)
        _say(resp, say("queue_back", lang=state.language))
    return _queue(env, state, resp)


def _queue_choices(state: CallState, resp: VoiceResponse, *extra: str) -> VoiceResponse:
    state.visit("queue_choices")
    key = "queue_choices" if state.from_e164 else "queue_choices_no_callback"
    return _gather(
        resp,
        state,
        "queue-menu",
        [*extra, say(key, lang=state.language)],
        num_digits=1,
        timeout=6,
        speech=QUEUE_CHOICE.hints,
        stage="choose",
    )


def queue_message(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """The caller's message from the line (or the degraded hunt). Silence at the beep goes back to
    the line; while Redis is unreachable there is no line, so a callback task is kept instead."""
    recording_url = inp.form.get("RecordingUrl", "")
    resp = _response()
    if not recording_url and not env.breakers.redis.usable():
        _leave_for_task(env, state, kind="callback", recording_url=None)
        state.visit("callback_requested")
        if state.from_e164:
            return _hangup(
                resp, say("queue_callback_saved", lang=state.language, last4=digits_spoken(state.from_e164[-4:]))
            )
        return _hangup(resp, say("degraded_callback_saved", lang=state.language))
    if not recording_url:
        _say(resp, say("queue_no_message", lang=state.language))
        return _queue(env, state, resp)
    _leave_for_task(env, state, kind="message", recording_url=recording_url)
    state.visit("message_recorded")
    return _hangup(resp, say("queue_message_saved", lang=state.language))


def _leave_for_task(env: CallEnv, state: CallState, *, kind: str, recording_url: str | None) -> None:
    """Out of the line, into the task list at the same place (priority, first queue time)."""
    _quiet(env, env.queue.leave, state.sid)
    late = _quiet(env, Offers(env.redis).take, state.sid)
    if late is not None:  # an advisor was reserved meanwhile: let them take the next caller
        _quiet(env, env.presence.release, late.advisor_pk, state.sid, env.now, missed=False)
    queued_at = datetime.fromisoformat(state.queued_at) if state.queued_at else env.now
    _leave_task(env, state, kind=kind, recording_url=recording_url, queued_at=queued_at)
    env.dispatch()


def dial_result(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """After a Dial: connected and accepted means the call is done; anything else tries the next."""
    dial_status = inp.form.get("DialCallStatus", "")
    accepted = _accepted(env, state.sid, state.attempt)
    target = state.current_target or ""
    advisor_pk = _target_pk(target, "advisor")
    if accepted and dial_status in {"completed", "answered"}:
        _talk_ended(env, inp, state, advisor_pk)
        note_ring(env, state, inp.form, accepted=True)
        return _hangup(_response(), say("call_ended", lang=state.language))
    _ring_missed(env, state, advisor_pk, dial_status)
    note_ring(env, state, inp.form, accepted=False)
    resp = _response()
    if state.route == "oncall":
        return _outage_next(env, state, resp)
    prefix = (
        say("owner_unavailable", lang=state.language)
        if state.route == "owner"
        else say("advisor_unavailable", lang=state.language)
    )
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
        env.session,
        state.sid,
        outcome="connected",
        talk_seconds=talk,
        wait_seconds=waited,
        advisor_id=advisor_pk,
        path=list(state.path),
    )
    _finish_case_event(env, state, outcome="connected", advisor_pk=advisor_pk)
    if state.case_pk is not None:
        actions.mark_responded(env.session, state.case_pk, env.now)
    if advisor_pk is not None:
        holds.end(env.session, advisor_pk, state.sid, env.now + timedelta(seconds=env.wrap_seconds))
        _quiet(env, env.presence.call_ended, advisor_pk, env.now, env.wrap_seconds, call_sid=state.sid)
        env.dispatch()
    state.visit("done")


def _ring_missed(env: CallEnv, state: CallState, advisor_pk: int | None, dial_status: str) -> None:
    """The person dialled did not take the call: they are free again at once (a miss toward the
    autopause)."""
    state.visit(f"missed_{state.route}")
    log.info(
        "dial not accepted call=%s target=%s status=%s", state.sid, state.current_target or "", dial_status or "none"
    )
    if advisor_pk is not None:
        holds.end(env.session, advisor_pk, state.sid, env.now)
        if _quiet(env, env.presence.release, advisor_pk, state.sid, env.now, missed=True) == "away":
            staffing.note_autopause(env.session, advisor_pk, env.now, _autopause_reason(env))
