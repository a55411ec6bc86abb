"""Routing decisions: hours and holidays, advisor selection, the hold queue, on-call.

Plain functions over plain data and an explicit `now`; the call flow (`ivr/`) asks, routing answers.
"""
