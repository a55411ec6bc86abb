"""The call simulator: runs a phone call through the real app in-process, exactly as Twilio would.

Each request is signed with the configured auth token, every TwiML action and redirect is
followed, a Gather consumes the caller's next key group, and a Dial asks the script (or, in
interactive mode, the person at the keyboard) how the dialled party behaves. It prints what the
caller hears and where the call is put through. Tests use it too, so it is the end-to-end harness.

Key groups, one per prompt: keys as pressed ("241025#", "0", "*"), "" for no input, "hold:<keys>"
for keys pressed while on hold, and "say:<words>" for words said instead ("say:two four one oh two
five", "say:agent", "say:yes"): the request carries Twilio's `SpeechResult=<words>` and
`Confidence=0.9` instead of `Digits`. "say@<confidence>:<words>" chooses the recogniser's confidence
("say@0.3:two four one", below the line's floor). A caller can only speak to a Gather that listens
for speech (`input="dtmf speech"`): saying something at a keypad-only prompt, such as the PIN, fails
loudly (`CannotSpeak`). The transcript shows `caller says: "two four one oh two five"`.

Every Gather met is checked against Twilio's rules (`twilio_doubles.twiml_rules`: input values,
hints, speechTimeout, language) and kept in `Transcript.gathers`; one that breaks them fails the call.

Dial outcomes, one per ring: `accept` (answers and presses 1), `decline` (answers, presses 2),
`no-answer`, `busy`, `failed`.

A dry run (`twilio_doubles.dryrun`) passes `pin`: the line's PIN prompts are then answered by it
(with a one-time PIN it set itself), never with a key group of the script or the person at the
keyboard, so a simulated call cannot check a real PIN.
"""

from __future__ import annotations

import itertools
import math
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator

from ivr.flow.answers import CONTACT_ID_QUESTION, hear
from twilio_doubles.twiml_rules import gather_problems

DIAL_OUTCOMES = ("accept", "decline", "no-answer", "busy", "failed")
MAX_REQUESTS = 400
PIN_STEP, CONTACT_ID_STEP = "/voice/pin", "/voice/contact-id"  # the Gather actions of those prompts
SPEECH_CONFIDENCE = "0.9"  # Twilio's Confidence for a "say:" group without "@<confidence>"
_SAY = re.compile(r"say(?:@([^:]*))?:(.*)", re.DOTALL)


class SpeechEntryError(ValueError):
    """A "say:" key group the simulator cannot play: no words, a confidence not from 0 to 1, or
    (`CannotSpeak`) a prompt that does not listen for speech."""


class CannotSpeak(SpeechEntryError):
    """A "say:" key group met a prompt that takes keys only: a caller cannot speak there."""


@dataclass(frozen=True)
class Spoken:
    """What a "say:" key group says, and the confidence Twilio reports for it."""

    words: str
    confidence: str = SPEECH_CONFIDENCE

    @classmethod
    def of(cls, entry: str) -> Spoken | None:
        """The words of a "say:<words>" or "say@<confidence>:<words>" group; None for keys.
        SpeechEntryError for no words, or a confidence that is not a number from 0 to 1."""
        match = _SAY.fullmatch(entry.strip())
        if match is None:
            return None
        raw, words = match.group(1), " ".join(match.group(2).split())
        if not words:
            raise SpeechEntryError(f"{entry!r}: say what? e.g. 'say:two four one oh two five'")
        if raw is None:
            return cls(words)
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not 0.0 <= value <= 1.0:
            raise SpeechEntryError(f"{entry!r}: the confidence after say@ is a number from 0 to 1, e.g. say@0.3:yes")
        return cls(words, raw.strip())


@dataclass(frozen=True)
class SimulatedEntry:
    """Keys the simulator presses for the caller: `digits` as sent, `shown` in the transcript."""

    digits: str
    shown: str


@dataclass
class Transcript:
    """What happened on the call, in order; `lines` is what the simulator prints."""

    lines: list[str] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    dialled: list[str] = field(default_factory=list)
    connected_to: str | None = None
    requests: int = 0
    ended_by: str = ""
    status_codes: list[int] = field(default_factory=list)
    gathers: list[dict[str, str]] = field(default_factory=list)  # the attributes of every Gather met

    def said(self, fragment: str) -> bool:
        return any(fragment.lower() in text.lower() for text in self.heard)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class _Call:
    """One call in progress: what the simulator keeps from one of the app's answers to the next."""

    sid: str
    base: dict[str, str]  # the parameters of every request of the call
    params: dict[str, str]  # those of the next request
    pending: list[str]  # the key groups not yet pressed
    dial_iter: Iterator[str]
    ask_keys: Callable[[list[str]], str | None] | None
    ask_dial: Callable[[str], str] | None
    record: str | None
    pin: Callable[[str | None], SimulatedEntry] | None
    t: Transcript = field(default_factory=Transcript)
    holds: int = 0
    child: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    duration: int = 0
    typed_contact_id: str | None = None  # keyed or said at the last contact-ID prompt


class CallSimulator:
    """Drive calls through a Flask test client (or anything with `.post(path, data=, headers=)`)."""

    def __init__(
        self,
        client,
        *,
        base_url: str,
        auth_token: str,
        to_number: str = "+18005550100",
        advance: Callable[[float], None] | None = None,
        hold_rounds: int = 3,
        talk_seconds: int = 180,
        redirects: Callable[[str], str | None] | None = None,
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.to_number = to_number
        self.advance = advance or (lambda seconds: None)
        self.hold_rounds = hold_rounds
        self.talk_seconds = talk_seconds
        # The carrier's REST redirects of live calls (a waiting caller put through to an advisor):
        # returns the URL a call was sent to since the last look, if any.
        self.redirects = redirects or (lambda sid: None)

    # -- HTTP -------------------------------------------------------------------------------

    def post(self, path: str, params: dict[str, str], transcript: Transcript | None = None) -> str:
        signature = self.validator.compute_signature(self.base_url + path, params)
        res = self.client.post(path, data=params, headers={"X-Twilio-Signature": signature})
        if transcript is not None:
            transcript.requests += 1
            transcript.status_codes.append(res.status_code)
        body = res.get_data(as_text=True)
        if res.status_code != 200:
            raise AssertionError(f"{path} answered HTTP {res.status_code}: {body[:200]}")
        return body

    # -- a call ------------------------------------------------------------------------------

    def call(
        self,
        from_number: str,
        keys: Iterable[str] = (),
        dial: Iterable[str] = (),
        *,
        ask_keys: Callable[[list[str]], str | None] | None = None,
        ask_dial: Callable[[str], str] | None = None,
        call_sid: str | None = None,
        record: str | None = "https://api.twilio.com/recordings/RE-demo",
        pin: Callable[[str | None], SimulatedEntry] | None = None,
    ) -> Transcript:
        """Place one call. `keys`: key groups for successive prompts ("" = no input; exhausted =
        the caller hangs up at the next prompt; "say:<words>" speaks instead, see the module's
        doc). While on hold the caller presses nothing unless the next key group is
        "hold:<keys>". `dial`: outcomes for successive rings (default
        accept). `ask_keys`/`ask_dial` make it interactive. `pin`, when given, answers every PIN
        prompt instead (called with the contact ID keyed or said at the last contact-ID prompt, or None);
        `keys` and `ask_keys` then serve only the other prompts."""
        sid = call_sid or "CA" + uuid.uuid4().hex
        base = {
            "CallSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": from_number,
            "To": self.to_number,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        c = _Call(
            sid=sid,
            base=base,
            params=dict(base, CallStatus="ringing"),
            pending=list(keys),
            dial_iter=iter(dial),
            ask_keys=ask_keys,
            ask_dial=ask_dial,
            record=record,
            pin=pin,
        )
        path = "/voice/incoming"
        for _ in range(MAX_REQUESTS):
            doc = self.post(path, c.params, c.t)
            c.params = dict(base, CallStatus="in-progress")
            next_path = self._play(c, doc)
            if next_path is None:
                break
            path = self._local(next_path)
        return self._end(c)

    def _play(self, c: _Call, doc: str) -> str | None:
        """Carry out one TwiML document, verb by verb, until one moves the call on: the path
        Twilio requests next, or None when the call is over."""
        handlers = {
            "Gather": self._gather,
            "Dial": self._dial_verb,
            "Record": self._record,
            "Redirect": self._redirect,
            "Hangup": self._hangup,
            "Enqueue": self._enqueue,
        }
        for verb in ET.fromstring(doc):
            if verb.tag == "Say":
                self._hear(c.t, verb.text or "")
            elif verb.tag in ("Pause", "Play"):
                c.duration += self._wait(c.t, verb)
            elif verb.tag in handlers:
                moved_on, next_path = handlers[verb.tag](c, verb)
                if moved_on:
                    return next_path
        return None

    def _end(self, c: _Call) -> Transcript:
        """The caller is gone: the last transcript line, and Twilio's status callback."""
        t = c.t
        if not t.ended_by:
            t.ended_by = "call ended"
        t.lines.append(f"-- {t.ended_by}")
        status = dict(c.base, CallStatus="completed", CallDuration=str(c.duration + 30))
        self.post("/voice/status", status, t)
        return t

    # -- the verbs that move a call on: each returns (moved on, the next path or None) ----------

    def _gather(self, c: _Call, verb) -> tuple[bool, str | None]:
        """A prompt: hear it (on hold, its music too unless the caller presses a "hold:" group),
        then answer it: the dry run's PIN, a key group, no input (the next verb follows, as on
        Twilio) or a hang-up when the keys are exhausted."""
        t = c.t
        self._check_gather(t, verb)
        on_hold = "/voice/queue-menu" in (verb.get("action") or "") and "stage=" not in (verb.get("action") or "")
        for inner in verb:
            if inner.tag == "Say":
                self._hear(t, inner.text or "")
            elif inner.tag in ("Pause", "Play") and not (on_hold and c.pending and c.pending[0].startswith("hold:")):
                c.duration += self._wait(t, inner)
        step = urlsplit(verb.get("action") or "").path
        if c.pin is not None and step == PIN_STEP:
            answer = c.pin(c.typed_contact_id)
            t.lines.append(f"caller presses: {answer.shown}")
            c.params = dict(c.params, Digits=answer.digits)
            return True, verb.get("action")
        entry = self._next_entry(c, on_hold)
        if entry is None:
            t.ended_by = "caller hung up"
            return True, None
        if entry == "":
            t.lines.append("caller: (no input)")
            return False, None  # falls through to the next verb, as Twilio does
        spoken = Spoken.of(entry)
        if spoken is not None:
            self._speak(c, verb, step, entry, spoken)
            return True, verb.get("action")
        t.lines.append(f"caller presses: {entry}")
        digits = entry[:-1] if entry.endswith(verb.get("finishOnKey", "#")) else entry
        if step == CONTACT_ID_STEP:
            c.typed_contact_id = digits
        c.params = dict(c.params, Digits=digits)
        return True, verb.get("action")

    def _speak(self, c: _Call, verb, step: str, entry: str, spoken: Spoken) -> None:
        """Say the words of a "say:" group: Twilio's SpeechResult and Confidence, no Digits."""
        listens = verb.get("input", "dtmf")
        if "speech" not in listens.split():
            raise CannotSpeak(
                f"{entry!r}: the prompt at {step} takes keys only (input={listens!r}); the caller cannot speak there"
            )
        shown = "" if spoken.confidence == SPEECH_CONFIDENCE else f" (confidence {spoken.confidence})"
        c.t.lines.append(f'caller says: "{spoken.words}"{shown}')
        if step == CONTACT_ID_STEP:  # for a dry run's PIN: the contact ID as the line hears it
            said = hear(spoken.words, spoken.confidence, CONTACT_ID_QUESTION)
            c.typed_contact_id = said.number if said is not None and said.number else None
        c.params = dict(c.params, SpeechResult=spoken.words, Confidence=spoken.confidence)

    def _check_gather(self, t: Transcript, verb) -> None:
        """Keep the Gather's attributes, and fail the call if Twilio would reject or warn about them."""
        attrs = dict(verb.attrib)
        t.gathers.append(attrs)
        problems = gather_problems(attrs)
        if problems:
            raise AssertionError(f"Gather for {attrs.get('action')} breaks Twilio's rules: {'; '.join(problems)}")

    def _next_entry(self, c: _Call, on_hold: bool) -> str | None:
        """What the caller types at a prompt: asked interactively, else the next key group (on
        hold only a "hold:" group, else nothing); None: the caller hangs up."""
        if c.ask_keys is not None:
            return c.ask_keys(c.t.heard)
        if on_hold:
            return c.pending.pop(0)[len("hold:") :] if c.pending and c.pending[0].startswith("hold:") else ""
        return c.pending.pop(0) if c.pending else None

    def _dial_verb(self, c: _Call, verb) -> tuple[bool, str | None]:
        next_path, c.params, talked = self._dial(verb, c.base, c.sid, c.t, c.dial_iter, c.ask_dial, c.child)
        c.duration += talked
        return True, next_path

    def _record(self, c: _Call, verb) -> tuple[bool, str | None]:
        if c.record:
            c.t.lines.append("caller leaves a message")
            c.params = dict(
                c.params, RecordingUrl=c.record, RecordingDuration="20", RecordingSid="RE" + uuid.uuid4().hex
            )
            return True, verb.get("action")
        c.t.lines.append("caller: (says nothing)")
        return False, None

    def _redirect(self, c: _Call, verb) -> tuple[bool, str | None]:
        """Follow the redirect, unless the carrier put the waiting caller through meanwhile; a
        caller back in the hold loop more than `hold_rounds` times hangs up."""
        path = (verb.text or "").strip()
        next_path: str | None = path
        redirected = self.redirects(c.sid)
        if redirected:
            c.t.lines.append("   (put through from the line)")
            next_path = redirected
        elif "/voice/queue?" in path:
            c.holds += 1
            if c.holds > self.hold_rounds:
                c.t.ended_by = "caller hung up while holding"
                next_path = None
        return True, next_path

    def _hangup(self, c: _Call, verb) -> tuple[bool, str | None]:
        c.t.ended_by = c.t.ended_by or "hung up by the line"
        return True, None

    def _enqueue(self, c: _Call, verb) -> tuple[bool, str | None]:
        c.t.lines.append(f"   (queued in {verb.text})")
        c.t.ended_by = "queued"
        return True, None

    def _dial(self, verb, base, sid, t: Transcript, dial_iter, ask_dial, child):
        action = verb.get("action")
        talked = 0
        for endpoint in verb:
            target = (endpoint.text or "").strip()
            t.dialled.append(target)
            whisper = endpoint.get("url")
            if whisper is None:
                t.lines.append(f"-> transferred to {target}")
                t.connected_to = target
                return None, base, 0
            outcome = ask_dial(target) if ask_dial else next(dial_iter, "accept")
            if outcome not in DIAL_OUTCOMES:
                raise ValueError(f"dial outcome must be one of {DIAL_OUTCOMES}")
            t.lines.append(f"-> ringing {target}: {outcome}")
            dial_status = outcome
            if outcome in ("accept", "decline"):
                child_params = {
                    "CallSid": f"{sid}-leg{next(child)}",
                    "ParentCallSid": sid,
                    "AccountSid": base["AccountSid"],
                    "From": base["To"],
                    "To": target,
                    "CallStatus": "in-progress",
                    "Direction": "outbound-api",
                }
                doc = self.post(self._local(whisper), child_params, t)
                root = ET.fromstring(doc)
                gather = root.find("Gather")
                if gather is not None:
                    self._check_gather(t, gather)
                    for inner in gather:
                        if inner.tag == "Say":
                            t.lines.append(f"   ({target} hears) {inner.text}")
                    press = "1" if outcome == "accept" else "2"
                    doc = self.post(self._local(gather.get("action", "")), dict(child_params, Digits=press), t)
                    bridged = ET.fromstring(doc).find("Hangup") is None
                else:
                    bridged = False
                dial_status = "completed" if bridged or outcome == "decline" else "no-answer"
                if bridged:
                    t.connected_to = target
                    talked = self.talk_seconds
                    self.advance(talked)
                    t.lines.append(f"-> connected to {target} ({talked} s)")
            else:
                self.advance(20)
            params = dict(
                base,
                CallStatus="in-progress",
                DialCallStatus=dial_status,
                DialCallSid="CA" + uuid.uuid4().hex,
                DialCallDuration=str(talked),
            )
            return (self._local(action) if action else None), params, talked
        return (self._local(action) if action else None), base, talked

    def _wait(self, t: Transcript, verb) -> int:
        """A Pause or Play: the clock moves on by its length (a Play counts as 30 s)."""
        seconds = float(verb.get("length", "30")) if verb.tag == "Pause" else 30.0
        self.advance(seconds)
        music = f" of {(verb.text or '').strip()}" if verb.tag == "Play" else " of silence"
        t.lines.append(f"   ({int(seconds)} s{music})")
        return int(seconds)

    def _hear(self, t: Transcript, text: str) -> None:
        text = " ".join(text.split())
        if text:
            t.heard.append(text)
            t.lines.append(f"line: {text}")

    def _local(self, target: str) -> str:
        """Twilio resolves relative URLs against the request; ours are absolute paths."""
        parts = urlsplit(target)
        return parts.path + (f"?{parts.query}" if parts.query else "")


def advance_clock(clock) -> Callable[[float], None]:
    """An `advance` for a settable clock with `.set()`/`.now` or `.advance(seconds=)`."""

    def _advance(seconds: float) -> None:
        if hasattr(clock, "advance"):
            clock.advance(seconds=seconds)
        else:  # pragma: no cover - simple callables cannot be advanced
            pass

    return _advance


__all__ = [
    "DIAL_OUTCOMES",
    "CallSimulator",
    "CannotSpeak",
    "SimulatedEntry",
    "SpeechEntryError",
    "Spoken",
    "Transcript",
    "advance_clock",
]
