"""Small TwiML helpers the stages share: a response, a sentence in its language's voice, the URL of
a step, a Gather (keypad, or keypad and speech) that falls through on no input, the read-back of a
spoken number, a hang-up, the Dial noun for an advisor's or engineer's reach; and the cleaning of
keypad and number input from the webhook."""

from __future__ import annotations

from urllib.parse import urlencode

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from ivr.flow.answers import READBACK, READBACK_COUNTER
from ivr.prompts import SPEECH, digits_spoken, language_of, say
from ivr.speech_hints import HintKind, hints_for
from ivr.state import CallState

VOICE = SPEECH["en"].voice


def _response() -> VoiceResponse:
    return VoiceResponse()


def _say(resp: VoiceResponse | Gather, text: str) -> None:
    """Say `text` in its own language (`ivr.prompts.Spoken`); plain text is English."""
    speech = SPEECH[getattr(text, "language", "en")]
    resp.say(str(text), voice=speech.voice, language=speech.tag)


def url(step: str, state: CallState | None = None, **params: object) -> str:
    query: dict[str, object] = {"n": state.seq} if state is not None else {}
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
    speech: HintKind | None = None,
    **params: object,
) -> VoiceResponse:
    """Ask with a Gather: the keypad, and with `speech` (the kind of answer, for its hints) the
    caller's voice too, recognised in the call's language; no input falls through to a redirect
    flagged `noinput=1`."""
    kwargs: dict[str, object] = {
        "input": "dtmf",
        "action": url(step, state, **params),
        "method": "POST",
        "timeout": timeout,
        "finish_on_key": finish_on_key,
        "action_on_empty_result": False,
    }
    if num_digits:
        kwargs["num_digits"] = num_digits
    if speech is not None:
        tag = SPEECH[language_of(state.language)].tag
        kwargs.update(input="dtmf speech", hints=hints_for(speech, tag), speech_timeout="auto", language=tag)
    gather = resp.gather(**kwargs)
    for text in texts:
        _say(gather, text)
    resp.redirect(url(step, state, noinput=1, **params), method="POST")
    return resp


def _read_back(
    resp: VoiceResponse, state: CallState, step: str, number: str, *extra: str, again: bool = False
) -> VoiceResponse:
    """Ask whether a spoken number was heard right: 1 or yes uses it, 2 or no asks for it again
    (`ivr.flow.answers.readback_answer`, at `step`). Says only the digits the caller said, so it
    may come before verification. `again`: a re-ask, which keeps the count of re-asks."""
    state.pending_number = number
    if not again:
        state.tries.pop(READBACK_COUNTER, None)
    text = say("heard_number", lang=state.language, number_spoken=digits_spoken(number))
    return _gather(resp, state, step, [*extra, text], num_digits=1, timeout=6, speech=READBACK.hints)


def _hangup(resp: VoiceResponse, *texts: str) -> VoiceResponse:
    for text in texts:
        _say(resp, text)
    resp.hangup()
    return resp


def _dial_endpoint(dial: Dial, reach: str, whisper_url: str) -> None:
    if reach.startswith("client:"):
        dial.client(reach.split(":", 1)[1], url=whisper_url, method="POST")
    elif reach.startswith("sip:"):
        dial.sip(reach, url=whisper_url, method="POST")
    else:
        dial.number(reach, url=whisper_url, method="POST")


def _keypad(digits: str | None) -> str:
    """Only keypad characters survive; anything else is junk from a misbehaving client."""
    return "".join(ch for ch in (digits or "") if ch in "0123456789*#").strip("#")


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0
