"""Caller emulation: one Caller per call, on its own thread, plays Twilio and the caller together.
It posts the signed webhooks, follows their TwiML (menus, hold, dispatcher redirects, the Dial and
whisper, messages, the greeting again after lost state) and hangs up with the status callback."""

from __future__ import annotations

import re
import threading
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import redis

from .board import CallPlan, CallRecord, Storm
from .shared import AFTER_TALKING, MAX_RESTARTS, PRESENCE_KEY, base

HOLD_SECONDS = 30.0  # a hold round when the TwiML has no Pause to go by
CHOOSE_SECONDS = 4.0  # listening to "1 for a message, 2 for a call back" before pressing 2


STRAY_LABEL = {
    "": "before the first webhook",
    "menus": "in the menus",
    "talking": "while being put through or talking",
    "leaving": "while leaving (callback)",
    "done": "after the caller hung up",
}


def step_of(url: str | None) -> str:
    return urlsplit(url or "").path.rsplit("/", 1)[-1]


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def describe(root: ET.Element) -> str:
    """A short picture of a TwiML answer for error messages: verbs and where they lead."""
    out = []
    for verb in root:
        target = verb.get("action") or (verb.text or "").strip() if verb.tag in ("Gather", "Redirect") else ""
        out.append(f"{verb.tag}({step_of(target)})" if target else verb.tag)
    return " ".join(out) or "empty Response"


def restart_target(root: ET.Element) -> str | None:
    """The greeting's URL when the answer does nothing but send the call back to it (the service
    found no state for the call: lost with Redis), else None."""
    if root.find("Gather") is not None or root.find("Dial") is not None:
        return None
    redirect = root.find("Redirect")
    target = (redirect.text or "").strip() if redirect is not None else ""
    return target if step_of(target) == "incoming" else None


def is_hold(root: ET.Element) -> bool:
    gather = root.find("Gather")
    return gather is not None and step_of(gather.get("action")) == "queue-menu" and root.find("Redirect") is not None


_POSITION = re.compile(r"You are number (\d+) in line")
_EXPECTED = re.compile(r"expected wait is about (less than a minute|(\d+) minutes?)")


def announcement(gather: ET.Element) -> tuple[int | None, float | None]:
    """(position, expected wait in seconds) as the hold prompt says them."""
    text = " ".join(say.text or "" for say in gather.iter("Say"))
    position, expected = _POSITION.search(text), _EXPECTED.search(text)
    wait = None
    if expected:
        wait = 30.0 if expected.group(2) is None else 60.0 * int(expected.group(2))
    return (int(position.group(1)) if position else None), wait


def reach_of(endpoint: ET.Element) -> str:
    text = (endpoint.text or "").strip()
    return f"client:{text}" if endpoint.tag == "Client" else text


class Caller:
    """One call, on its own thread: the caller, and Twilio around them. Only this thread posts
    the call's webhooks, so they never overlap (as with Twilio); a redirect the carrier accepts
    while the caller is waiting is followed as soon as the current request has its answer."""

    FOLLOWS = frozenset({"waiting", "choosing"})  # phases in which a redirect takes the call

    def __init__(self, plan: CallPlan, storm: Storm) -> None:
        self.plan, self.storm, self.board = plan, storm, storm.board
        self.sid = "CA" + uuid.uuid4().hex
        self.record = CallRecord(self.sid, plan)
        self.base = {
            "CallSid": self.sid,
            "AccountSid": base.ACCOUNT_SID,
            "From": storm.phone,
            "To": base.TO_NUMBER,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
            "CallStatus": "in-progress",
        }
        self.tx = base.Transport(storm.pool, storm.public, storm.token, storm.samples, storm.errors, storm.fallback)
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.pending: list[str] = []
        self.phase = ""
        self.holding: int | None = None
        self.legs = 0
        self.last_step = ""

    # -- the carrier side ---------------------------------------------------------------------

    def redirected(self, url: str) -> None:
        """The carrier accepted a redirect of this call (the fake's thread)."""
        with self.lock:
            if self.phase in self.FOLLOWS:
                self.pending.append(url)
                self.wake.set()
                return
            phase = self.phase
        self.stray(STRAY_LABEL.get(phase, phase), url)

    def stray(self, label: str, url: str) -> None:
        """A redirect the call does not follow: counted, and kept with what the advisor it
        names is doing (in the service's presence) at this moment."""
        adv = parse_qs(urlsplit(url).query).get("adv", ["?"])[0]
        try:
            state, sid = self.storm.redis.hmget(PRESENCE_KEY.format(adv), "state", "call_sid")
        except redis.RedisError:
            state, sid = "unknown (Redis unreachable)", None
        holds = "this call" if sid == self.sid else (sid or "-")
        self.record.strays.append(
            f"t={self.board.now():.2f}s redirect to advisor {adv} {label} (advisor {adv}: {state} for {holds})"
        )
        self.board.note_stray(label)

    def take_redirect(self) -> str | None:
        """The latest pending redirect (it supersedes any earlier one), or None."""
        with self.lock:
            urls, self.pending = self.pending, []
            self.wake.clear()
        for url in urls[:-1]:
            self.stray("superseded by a later redirect", url)
        return local(urls[-1]) if urls else None

    def drop_redirects(self, label: str) -> None:
        with self.lock:
            urls, self.pending = self.pending, []
            self.wake.clear()
        for url in urls:
            self.stray(label, url)

    def set_phase(self, phase: str) -> None:
        with self.lock:
            old, self.phase = self.phase, phase
        self.board.move(old, phase)

    # -- the call -----------------------------------------------------------------------------

    def run(self) -> None:
        self.record.arrived = self.board.now()
        self.set_phase("menus")
        self.storm.fake.inbound(self.sid)
        try:
            self.follow(self.arrive())
        except Exception as exc:  # a bench bug must show, not end the thread silently
            self.record.outcome, self.record.cut_off = "error", "bench"
            self.problem("bench", f"bench: {type(exc).__name__}: {exc}")
        finally:
            self.hang_up()

    def post(self, path: str, params: dict[str, str]) -> ET.Element | None:
        self.record.requests += 1
        self.last_step = step_of(path)
        line = self.board.waiting_count()
        sent = self.board.now()
        root = self.tx.post(local(path), params)  # appends its own problem to storm.errors
        kind = self.tx.last_kind
        self.storm.timeline.append((step_of(path), self.tx.last_ms, line, sent, kind))
        if root is None:
            self.record.errors += 1
            self.storm.error_kinds.append(kind or "?")
        return root

    def problem(self, kind: str, text: str) -> None:
        self.storm.error_kinds.append(kind)
        self.storm.errors.append(text)

    def unexpected(self, root: ET.Element | None, why: str) -> None:
        self.record.outcome = "unexpected"
        self.record.errors += 1
        self.problem("unexpected", f"{why}: got {describe(root) if root is not None else 'nothing'}")
        return None

    def arrive(self) -> ET.Element | None:
        root = self.post("/voice/incoming", dict(self.base, CallStatus="ringing"))
        root = self.key_in(root, "pin", self.storm.pin)
        return self.new_issue(self.key_in(root, "menu", "0"))  # 0: the next available advisor

    def new_issue(self, root: ET.Element | None) -> ET.Element | None:
        """After 0, the product area and the urgency (ivr/flow/area.py): not sure, not urgent."""
        if root is None or restart_target(root) is not None:
            return root
        return self.key_in(self.key_in(root, "area", "0"), "urgency", "3")

    def key_in(self, root: ET.Element | None, step: str, digits: str) -> ET.Element | None:
        if root is None or restart_target(root) is not None:
            return root  # nothing, or back to the greeting (follow() goes there)
        gather = root.find("Gather")
        action = gather.get("action") if gather is not None else None
        if step_of(action) != step:
            return self.unexpected(root, f"expected the {step} prompt")
        return self.post(action, dict(self.base, Digits=digits))

    def follow(self, root: ET.Element | None) -> None:
        while root is not None:
            if root.find("Dial") is not None:
                root = self.put_through(root)
            elif is_hold(root):
                root = self.hold(root)
            elif (target := restart_target(root)) is not None:
                root = self.restart(target)
            elif root.find("Record") is not None:
                root = self.leave_message(root)
            elif root.find("Hangup") is not None:
                if not self.record.outcome:
                    self.unexpected(root, "the line hung up")
                return
            else:
                self.unexpected(root, "expected a Dial, a hold or a Hangup")
                return
        if not self.record.outcome:
            # Dropped: the last answer was an error (non-200, no answer, fallback TwiML).
            self.record.outcome, self.record.cut_off = "error", self.tx.last_kind or "?"

    def restart(self, target: str) -> ET.Element | None:
        """The service found no state for the call (lost with Redis) and sent it back to the
        greeting: Twilio follows the Redirect, and the caller goes through it again (PIN, 0)."""
        self.record.restarts += 1
        self.record.restarted_at.append(round(self.board.now(), 2))
        if self.record.restarts > MAX_RESTARTS:  # the caller gives up
            self.record.outcome, self.record.cut_off = "greeting loop", "greeting loop"
            self.record.errors += 1
            self.problem("greeting loop", f"sent back to the greeting more than {MAX_RESTARTS} times")
            return None
        self.set_phase("menus")
        self.drop_redirects("while sent back to the greeting")
        root = self.post(target, self.base)
        root = self.key_in(root, "pin", self.storm.pin)
        return self.new_issue(self.key_in(root, "menu", "0"))

    def leave_message(self, root: ET.Element) -> ET.Element | None:
        """No advisor could be reached and the service offers to record a message (degraded
        mode: advisors rung in order, no line): the caller leaves one."""
        record = root.find("Record")
        if self.record.joined is not None and self.record.left is None:
            self.record.left = self.board.now()
        self.set_phase("leaving")
        self.drop_redirects("while leaving a message")
        answer = self.post(
            record.get("action") or "",
            dict(
                self.base,
                RecordingUrl="https://api.twilio.com/recordings/RE-storm",
                RecordingDuration="15",
                RecordingSid="RE" + uuid.uuid4().hex,
            ),
        )
        if answer is not None and answer.find("Hangup") is not None and answer.find("Dial") is None:
            self.record.outcome = "message"
        return answer

    def put_through(self, root: ET.Element) -> ET.Element | None:
        """The Dial: the advisor's leg hears the whisper and presses 1, they talk, then the Dial
        result (the advisor is freed on the bench's side first)."""
        dialled_at = self.board.now()
        self.set_phase("talking")
        self.drop_redirects("while being put through")
        dial = root.find("Dial")
        endpoint = dial[0] if len(dial) else None
        whisper = endpoint.get("url") if endpoint is not None else None
        if whisper is None:
            return self.unexpected(root, "a Dial that is not to an advisor")
        pk = int(parse_qs(urlsplit(whisper).query).get("adv", ["0"])[0])
        reach = reach_of(endpoint)
        if self.storm.roster.get(pk) != reach:
            self.problem(
                "roster",
                f"dialled advisor {pk} at {reach}, not a signed-in advisor (roster: {self.storm.roster.get(pk)})",
            )
            self.record.errors += 1
        self.record.dials.append(f"t={dialled_at:.2f}s advisor {pk} via {self.last_step}")
        self.legs += 1
        leg_sid = f"{self.sid}-leg{self.legs}"
        if not self.board.take_advisor(pk, self.sid):
            # A double booking: the advisor is talking to another caller, so their phone answers
            # busy (no whisper), as a real one would; the service tries someone else.
            self.record.missed_dials += 1
            self.record.busy_dials += 1
            self.drop_redirects("while being put through")
            return self.post(
                dial.get("action") or "",
                dict(self.base, DialCallStatus="busy", DialCallSid=leg_sid, DialCallDuration="0"),
            )
        self.holding = pk
        leg = {
            "CallSid": leg_sid,
            "ParentCallSid": self.sid,
            "AccountSid": base.ACCOUNT_SID,
            "From": base.TO_NUMBER,
            "To": reach,
            "CallStatus": "in-progress",
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
        }
        heard = self.post(whisper, leg)
        gather = heard.find("Gather") if heard is not None else None
        bridged = False
        if gather is not None:
            accepted = self.post(gather.get("action") or "", dict(leg, Digits="1"))
            bridged = accepted is not None and accepted.find("Hangup") is None
        talked = 0
        if bridged:
            if self.record.put_through is None:
                self.record.put_through = dialled_at
            talked = round(self.plan.talk)
            self.board.stop.wait(self.plan.talk)  # talking (cut short by Ctrl-C)
        else:
            self.record.missed_dials += 1
        self.board.free_advisor(pk, self.sid)  # before the line can give them to anyone else
        self.holding = None
        self.drop_redirects("while talking")
        result = self.post(
            dial.get("action") or "",
            dict(
                self.base,
                DialCallStatus="completed" if bridged else "no-answer",
                DialCallSid=leg_sid,
                DialCallDuration=str(talked),
            ),
        )
        if bridged and result is not None and result.find("Hangup") is not None:
            self.record.outcome = "connected"
        elif bridged and result is not None and restart_target(result) is not None:
            # The conversation is over and the service sends the caller back to the greeting
            # (their state was lost meanwhile): they got what they called for, so they hang up.
            self.record.restarts += 1
            self.record.restarted_at.append(round(self.board.now(), 2))
            self.record.outcome, self.record.note = "connected", AFTER_TALKING
            return None
        return result

    def hold(self, root: ET.Element) -> ET.Element | None:
        """In line: wait for the round to end (then post the Redirect) or for the dispatcher's
        redirect (post it at once); leave when patience or the bench's cap runs out."""
        now = self.board.now()
        gather, redirect = root.find("Gather"), root.find("Redirect")
        if self.record.joined is None:
            self.record.joined = now
            self.record.announced_position, self.record.announced_wait = announcement(gather)
        self.set_phase("waiting")
        pause = sum(float(p.get("length", "1")) for p in gather.iter("Pause")) or HOLD_SECONDS
        round_ends = now + pause
        give_up_at = self.record.joined + self.plan.patience
        cap_at = self.record.joined + self.storm.max_wait
        while True:
            url = self.take_redirect()
            if url is not None:
                self.record.redirects += 1
                return self.post(url, self.base)
            now = self.board.now()
            if self.board.stop.is_set():
                self.record.outcome = "interrupted"
                return None
            if now >= cap_at:
                self.record.outcome = "still waiting at the cap"
                return None
            if now >= give_up_at:
                return self.give_up(gather)
            if now >= round_ends:
                self.record.hold_rounds += 1
                return self.post((redirect.text or "").strip(), self.base)
            self.wake.wait(min(round_ends, give_up_at, cap_at) - now)

    def give_up(self, gather: ET.Element) -> ET.Element | None:
        self.record.left = self.board.now()
        if self.plan.leaves == "hangup":
            self.record.outcome = "hung up"
            return None
        self.set_phase("choosing")
        menu = self.post(gather.get("action") or "", dict(self.base, Digits="1"))
        if menu is not None and not self.board.stop.is_set():
            self.wake.wait(CHOOSE_SECONDS)  # the choices are read out; a redirect cuts them short
        url = self.take_redirect()
        if url is not None:  # an advisor came free while the choices were read out
            self.record.redirects += 1
            self.record.left, self.record.note = None, "put through while choosing"
            return self.post(url, self.base)
        if menu is None:
            return None
        choose = menu.find("Gather")
        if choose is None or step_of(choose.get("action")) != "queue-menu":
            return self.unexpected(menu, "expected the message/callback choice")
        self.set_phase("leaving")
        answer = self.post(choose.get("action") or "", dict(self.base, Digits="2"))
        if answer is not None and answer.find("Hangup") is not None:
            self.record.outcome = "callback"
        return answer

    def hang_up(self) -> None:
        """The call ends: the carrier refuses redirects from now on, then the status callback."""
        self.set_phase("done")
        if self.holding is not None:
            self.board.free_advisor(self.holding, self.sid)
        self.storm.fake.end_call(self.sid)
        self.drop_redirects("after the caller hung up")
        self.record.ended = self.board.now()
        duration = int(self.record.ended - (self.record.arrived or 0.0))
        self.post("/voice/status", dict(self.base, CallStatus="completed", CallDuration=str(duration)))
