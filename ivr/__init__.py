"""The call flow: turns call state plus caller input into TwiML. Knows nothing of Flask.

`ivr.flow` names the steps, `ivr.prompts` holds every sentence, `ivr.state` keeps per-call state in
Redis, and `ivr.actions` holds the side effects (call log, case log, reopen, outage case).
"""
