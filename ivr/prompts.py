"""Every sentence the line speaks to callers, in one catalogue per language (English here, Spanish
in `ivr.prompts_es`), and `say`, which picks a call's language and returns the text tagged with it.

Prompts are plain text with `str.format` fields; the TwiML builder escapes them, so never
pre-escape. Nothing here names a district, case or person until the caller is verified: the
flow only fills those fields after verification. Every key exists in every language
(tests/ivr/test_prompts.py), with the same fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ivr.prompts_es import PROMPTS_ES

Language = Literal["en", "es"]
LANGUAGES: tuple[Language, ...] = ("en", "es")


@dataclass(frozen=True)
class Speech:
    """How Twilio speaks and hears a language: the `<Say>` voice and the BCP-47 tag for `<Say
    language>` and `<Gather language>` (speech recognition)."""

    voice: str
    tag: str


SPEECH: dict[Language, Speech] = {
    "en": Speech(voice="Polly.Joanna", tag="en-US"),
    "es": Speech(voice="Polly.Lupe", tag="es-US"),
}


def language_of(value: str | None) -> Language:
    """A stored or requested language as one the line speaks; anything unknown is English."""
    return "es" if value == "es" else "en"


class Spoken(str):
    """A sentence with the language it is in, so the TwiML builder gives its `<Say>` the right voice
    and `language` (a plain `str`, such as an admin's banner, is said in English)."""

    language: Language

    def __new__(cls, text: str, language: Language) -> Spoken:
        obj = super().__new__(cls, text)
        obj.language = language
        return obj


PROMPTS: dict[str, str] = {
    # Greeting and verification (said to anyone who dials).
    "greeting": "Thank you for calling Campus Support.",
    "authorized_only": "This line is for authorized contacts.",
    "ask_pin": "Using your keypad, please enter your PIN, followed by the pound key.",  # never by voice
    "ask_contact_id": "Please enter your contact I D followed by the pound key, or say it.",
    "no_match": "That did not match our records.",
    "no_input": "Sorry, we did not receive your entry.",
    "locked_out": (
        "This line is for authorized contacts only, and entry has been paused after several "
        "attempts. Please contact your district's technical team for help. Goodbye."
    ),
    # The same, when the lock's remaining time is known: {minutes} from `retry_minutes_spoken`.
    "locked_out_retry": (
        "This line is for authorized contacts only, and entry has been paused after several "
        "attempts. You can try again in {minutes}. Please contact your district's technical team "
        "for help. Goodbye."
    ),
    "verified": "Thank you, {name}.",
    # Menus.
    "menu_open": (
        "Enter your case number followed by the pound key, or say it. "
        "To report an outage of your hosted site, press 8 or say outage. "
        "To speak with the next available advisor, press 0 or say advisor. "
        "To hear these options again, press star."
    ),
    "menu_open_not_hosted": (
        "Enter your case number followed by the pound key, or say it. "
        "To speak with the next available advisor, press 0 or say advisor. "
        "To hear these options again, press star."
    ),
    "not_recognized": "Sorry, that is not one of the options.",
    # Speech (ivr.flow.answers): not understood, and a spoken number read back before it is used
    # ({number_spoken}: only the digits the caller said, so nothing private before verification).
    "didnt_catch": "Sorry, I didn't catch that.",
    "heard_number": (
        "I heard {number_spoken}. If that is right, press 1 or say yes. To enter it again, press 2 or say no."
    ),
    "goodbye": "Thank you for calling Campus Support. Goodbye.",
    "submit_online": ("You can submit a case online at any time through the Support Case Portal."),
    "in_writing": (
        "For data changes or configuration requests, please submit the request in writing "
        "as a note on your case, so the authorized contact can be confirmed."
    ),
    # Hours gating.
    "closed_holiday": "Live support is closed today for {holiday}.",
    # {hours}, {zone}, {when}: from the calendar (ivr/hours_spoken.py), e.g. "Monday through
    # Friday, from 6 a.m. to 6 p.m.", "Central", "tomorrow at 6 a.m. Central".
    "closed_hours": "Live support is available {hours} {zone}, and is closed right now.",
    "closed_now": "Live support is closed right now.",
    "next_opening": "We open again {when}.",
    "closed_outage_offer": ("If your hosted site is experiencing an outage, press 8 to reach the on call engineer."),
    # Cases.
    "case_not_found": "We could not find that case number for your district.",
    "not_a_case_number": "Sorry, that is not a case number.",
    "case_readback": "Case {number_spoken}. Status: {status}.",
    "case_release": "A fix is available in release {release}.",
    "case_closed_reopen": (
        "This case was closed on {closed_on}. To reopen it and speak with an advisor, press 1 or say yes. "
        "To return to the main menu, press star."
    ),
    "case_reopened": "Your case has been reopened.",
    "case_too_old": (
        "This case was closed more than 60 days ago and can no longer be reopened. "
        "Please submit a new case through the Support Case Portal."
    ),
    # Routing.
    "connecting_owner": "Connecting you to your case owner.",
    "connecting_advisor": "Connecting you to the next available advisor.",
    "trying_another_advisor": "Trying another advisor.",  # the second and later advisors of one round
    "owner_unavailable": "Your case owner is not available right now.",
    "advisor_unavailable": "That advisor is not available.",
    "queue_position": (
        "All advisors are helping other callers. You are number {position} in line. The expected wait is about {wait}."
    ),
    "queue_position_no_estimate": ("All advisors are helping other callers. You are number {position} in line."),
    "queue_still_waiting": "Thank you for holding. You are number {position} in line.",
    "queue_still_waiting_wait": (
        "Thank you for holding. You are number {position} in line. The expected wait is about {wait}."
    ),
    "queue_options": ("To leave a message or ask for a call back instead of waiting, press 1 at any time."),
    "queue_choices": (
        "To leave a voice message for an advisor, press 1 or say message. "
        "To have an advisor call you back at the number you are calling from, press 2 or say call back. "
        "To keep your place in line, press star or say wait."
    ),
    "queue_choices_no_callback": (
        "To leave a voice message for an advisor, press 1 or say message. "
        "To keep your place in line, press star or say wait."
    ),
    "queue_record": (
        "Please leave your message after the tone, with your case number if you have one, then press pound."
    ),
    "queue_message_saved": (
        "Thank you. Your message has been saved, and an advisor will call you back in the order you called. Goodbye."
    ),
    "queue_no_message": "We did not receive a message. You are still in line.",
    "queue_callback_saved": (
        "Thank you. An advisor will call you back at the number ending in {last4}, in the order you called. Goodbye."
    ),
    "queue_back": "You are still in line.",
    "degraded_busy": "We could not reach an advisor right now.",
    "degraded_callback_saved": (
        "Thank you. An advisor will call you back at the number we have on file, in the order you called. Goodbye."
    ),
    "call_ended": "Thank you for calling. Goodbye.",
    # Whisper to the advisor or engineer who answers.
    "whisper_case": "Case {number_spoken} for {district}. Press 1 to accept.",
    "whisper_general": "Support call from {district}. Press 1 to accept.",
    "whisper_outage": "Outage call from {district}, case {number_spoken}. Press 1 to accept.",
    "whisper_declined": "The call was not accepted. Goodbye.",
    # Option 8.
    "outage_not_hosted": ("Around the clock outage support is available for hosted customers only."),
    "outage_opened": "We have opened outage case {number_spoken} for your district.",
    "outage_joined": "Your district's outage is already being handled on case {number_spoken}.",
    "outage_connecting": "Connecting you to the on call engineer.",
    "outage_backup": "Trying the backup engineer.",
    "outage_record": (
        "No engineer could be reached right now. Please describe the outage after the tone, "
        "then press pound. An engineer will call you back."
    ),
    "outage_recorded": "Thank you. Your message is on the outage case, and an engineer will call you back.",
    "outage_no_recording": "We did not receive a message. The outage case is open and an engineer will call you back.",
    # Follow-up calls (3 x 10): nothing about the case before the PIN.
    "followup_greeting": "Hello, this is Campus Support, calling about one of your support cases.",
    "followup_voicemail": (
        "Hello, this is Campus Support, calling about one of your support cases. Please reply to our "
        "text message or call the support line. Goodbye."
    ),
    "followup_stale": "This call is about a case that no longer needs your confirmation. Thank you. Goodbye.",
    "followup_menu": (
        "Case {number_spoken} for {district} was resolved and is awaiting your confirmation. "
        "If it is resolved, press 1 or say resolved. To speak with an advisor now, press 2 or say advisor. "
        "To keep the case open, press 3 or say keep it open."
    ),
    "followup_closed": "Thank you. Case {number_spoken} is now closed. Goodbye.",
    "followup_kept_open": "Case {number_spoken} stays open, and your advisor will be in touch. Goodbye.",
    "followup_advisor_later": "Your case stays open, and an advisor will call you back. Goodbye.",
    "followup_no_choice": "We did not receive a choice. We will try again later. Goodbye.",
    # Faults.
    "fault_apology": "We are sorry, we are having trouble with our phone system.",
    "fault_transfer": "Please hold while we transfer you.",
    "fault_outage_offer": "If your hosted site is down, press 8 to reach the on call engineer.",
    "fault_call_back": "Please try again in a few minutes, or submit a case online. Goodbye.",
    # Issue #15 item 3: after hours, a message or a callback ({last4}: digits_spoken; {number_spoken}: a case).
    "afterhours_options": (
        "To leave a message for an advisor, press 1. To have an advisor call you back when we open, press 2."
    ),
    "afterhours_options_no_callback": "To leave a message for an advisor, press 1.",
    "afterhours_repeat": "To hear these options again, press star.",
    "afterhours_case": (
        "If this is about an existing case, enter the case number followed by the pound key. "
        "For a new issue, press pound."
    ),
    "afterhours_case_found": "Case {number_spoken}.",
    "afterhours_new_issue": "We will take this as a new issue.",
    "afterhours_record": "Please leave your message after the tone, then press pound.",
    "afterhours_no_message": "We did not receive a message.",
    "afterhours_message_saved": (
        "Thank you. Your message has been saved, and an advisor will call you back after we open, "
        "in the order you called. Goodbye."
    ),
    "afterhours_callback_saved": (
        "Thank you. An advisor will call you back at the number ending in {last4} after we open, "
        "in the order you called. Goodbye."
    ),
    # Issue #15 item 2: a new issue's product area and urgency (ivr/flow/area.py), and the whisper
    # of such a call ({area}: "attendance", "general"; {priority}: "critical", "high", "medium").
    "area_menu": (
        "Which product area is your issue about? "
        "For grade book, press 1. For scheduling, press 2. For attendance, press 3. "
        "For online registration, press 4. For point of sale, press 5. For state reporting, press 6. "
        "If you are not sure, press 0. You can also say the area. "
        "To hear these options again, press star."
    ),
    "urgency_menu": (
        "If your site is down or no one can work, press 1. "
        "If a time-sensitive task is blocked, such as a state report or report cards due today, press 2. "
        "Otherwise, press 3."
    ),
    "urgency_outage_offer": (
        "If it is your hosted site that is down, press 8 now to reach the on call engineer, at any hour. "
        "Otherwise, please stay on the line for an advisor."
    ),
    "whisper_new_issue": "Support call from {district}, {area}, {priority} priority. Press 1 to accept.",
    # Issue #15 item 7 (Spanish): the language offer at the first prompt of a call. Each is said
    # in its own language whatever the call's: "offer_spanish" in Spanish, "offer_english" in English.
    "offer_spanish": "For Spanish, press 9.",
    "offer_english": "For English, press 9.",
}


CATALOGUES: dict[Language, dict[str, str]] = {"en": PROMPTS, "es": PROMPTS_ES}


def say(key: str, *, lang: Language, **fields: object) -> Spoken:
    """The text of prompt `key` in `lang` with its fields filled in."""
    text = CATALOGUES[lang][key]
    return Spoken(text.format(**fields) if fields else text, lang)


def digits_spoken(number: int | str) -> str:
    """Read a number digit by digit ("2 4 0 1 1 7"), the way case numbers are read back."""
    return " ".join(str(number))


def _minutes(n: int, lang: Language) -> str:
    if lang == "es":
        return "1 minuto" if n == 1 else f"{n} minutos"
    return "1 minute" if n == 1 else f"{n} minutes"


def minutes_spoken(seconds: float, lang: Language = "en") -> str:
    if seconds < 60:
        return "menos de un minuto" if lang == "es" else "less than a minute"
    return _minutes(round(seconds / 60), lang)


def retry_minutes_spoken(seconds: float, lang: Language = "en") -> str:
    """A wait in whole minutes, rounded up (never tell a caller to try too early): '15 minutes'."""
    return _minutes(max(1, math.ceil(seconds / 60)), lang)
