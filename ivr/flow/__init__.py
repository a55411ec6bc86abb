"""The call flow: (call state, caller input, now) -> TwiML.

One function per step; `handle()` dispatches on the webhook's step name. Steps read data and ask
`routing/` and `auth/` for decisions; writes happen through the named operations in `ivr.actions`.
Nothing private (district, case, names) is said before the caller is verified.

Steps and the URLs Twilio is sent to (every action URL carries `n`, the response counter):
    incoming -> pin | contact-id -> menu (open) | closed (closed hours)
    menu: case number + '#' -> case read-back -> route; 8 -> outage; 0 -> area -> urgency -> route; * repeat
    route: owner (whisper-accept) -> next skilled advisor(s) -> hold queue (retries routing)
    outage: open/join outage case -> on-call primary -> secondary -> record a message

Where each part lives: `steps` (the step table and `handle`), `env` (what a step is given and
gives back), `twiml` (small TwiML helpers), `shared` (pieces several stages use), and one module
per stage, each reading top to bottom as the caller hears it: `verify`, `menu`, `case`, `area` (a
new issue's product area and urgency), `connect` (routing to people, the line, the dial's result),
`whisper` (the callee's leg), `outage` (option 8), `followup` (our outbound follow-up calls) and
`status` (the call's end).
"""

from ivr.flow.env import CallEnv, CallInput, StepResult
from ivr.flow.status import replay_end
from ivr.flow.steps import STATEFUL, STATELESS, STEPS, VERIFIED_ONLY, handle
from ivr.flow.twiml import VOICE, url

__all__ = [
    "STATEFUL",
    "STATELESS",
    "STEPS",
    "VERIFIED_ONLY",
    "VOICE",
    "CallEnv",
    "CallInput",
    "StepResult",
    "handle",
    "replay_end",
    "url",
]
