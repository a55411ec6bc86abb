"""Putting waiting callers through: when advisors are free, the right waiting callers get them.

`Dispatcher.run(advisors, now)` walks the line (`routing.callqueue`) in order, and for each caller
some free advisor fits (`routing.decision.offer_for`: the owner, the owner wait, who just missed
the call), takes that advisor atomically (`routing.presence.Presence.reserve`) and makes the
caller an *offer*: a Redis record `{sl:queue}:offer:<CallSid>` = advisor, token, time.
The caller is then put through in one of two ways:

* the caller whose own hold webhook ran the dispatch gets the offer back and is dialled at once;
* any other caller is redirected by the carrier's REST API (`Telephony.update_call`) to
  `/voice/connect?adv=<pk>&o=<token>`, which checks and consumes the offer and dials the advisor
  with the usual whisper-accept.

If the REST request fails, the advisor is released (not counted as missed) and the caller keeps
their place; a call the carrier says has ended leaves the line. Without a telephony client (no
Twilio credentials: development), or if a redirect never arrives, the caller's own next hold
webhook takes an offer older than `OFFER_STALE_SECONDS`. One dispatcher runs at a time (a Redis
lock); reservation is atomic anyway, so the lock is about fairness and not double-booking.

Triggers: every hold webhook, every advisor who comes free (dial result, status callback, presence
change), and the `supportline dispatcher` loop, which also notices wrap-ups that ended.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import redis

from ivr.telephony import NOT_FOUND, CallNotInProgress, Telephony, TelephonyError
from routing.callqueue import CallQueue, Waiting
from routing.decision import offer_for
from routing.presence import Presence
from routing.selection import AdvisorView

log = logging.getLogger("supportline.dispatch")

OFFER_TTL_SECONDS = 120
OFFER_STALE_SECONDS = 15
LOCK_MS = 10_000
LOCK_WAIT_SECONDS = 0.1

# Taking an offer leaves a "taken" marker for a while: a dispatcher pass that read the line before
# the caller left it must not offer them a second advisor while they are being put through.
_TAKE = """
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 6) ~= 'taken:' and (ARGV[1] == '' or string.find(v, ':' .. ARGV[1] .. ':', 1, true)) then
  redis.call('SET', KEYS[1], 'taken:' .. v, 'EX', tonumber(ARGV[2]))
  return v
end
return false
"""
_CLEAR_TAKEN = """
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 6) == 'taken:' then return redis.call('DEL', KEYS[1]) end
return 0
"""
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Offer:
    """An advisor reserved for a waiting caller, not yet dialled."""

    advisor_pk: int
    token: str
    made_at: float  # epoch seconds

    def encode(self) -> str:
        return f"{self.advisor_pk}:{self.token}:{self.made_at!r}"

    @classmethod
    def decode(cls, raw: str | bytes | None) -> Offer | None:
        if not raw or str(raw).startswith("taken:"):
            return None
        pk, token, made = str(raw).split(":", 2)
        return cls(int(pk), token, float(made))


class Offers:
    def __init__(self, client: redis.Redis, prefix: str = "sl") -> None:
        self.redis = client
        self.base = f"{{{prefix}:queue}}:offer"
        self._take = client.register_script(_TAKE)
        self._clear_taken = client.register_script(_CLEAR_TAKEN)

    def key(self, sid: str) -> str:
        return f"{self.base}:{sid}"

    def make(self, sid: str, advisor_pk: int, now: datetime) -> Offer:
        offer = Offer(int(advisor_pk), secrets.token_hex(6), now.timestamp())
        self.redis.set(self.key(sid), offer.encode(), ex=OFFER_TTL_SECONDS)
        return offer

    def get(self, sid: str) -> Offer | None:
        return Offer.decode(self.redis.get(self.key(sid)))

    def take(self, sid: str, token: str = "") -> Offer | None:
        """Consume the caller's offer (only the one with `token`, when given); a marker stays for
        OFFER_TTL_SECONDS so that the caller is not offered another advisor meanwhile."""
        return Offer.decode(self._take(keys=[self.key(sid)], args=[token, OFFER_TTL_SECONDS]))

    def pending(self, sid: str) -> bool:
        """An offer, or one taken moments ago: the caller is being put through."""
        return bool(self.redis.exists(self.key(sid)))

    def clear_taken(self, sid: str) -> None:
        """The caller is back in line (the advisor missed the call): they may be offered again."""
        self._clear_taken(keys=[self.key(sid)], args=[])

    def drop(self, sid: str) -> None:
        self.redis.delete(self.key(sid))


@dataclass
class DispatchResult:
    bridged: list[tuple[str, int]]  # (CallSid, advisor pk) offered this run
    own: Offer | None = None  # the offer for `own_sid`, to dial from its own webhook


class Dispatcher:
    def __init__(
        self,
        client: redis.Redis,
        presence: Presence,
        *,
        telephony: Telephony | None,
        connect_url: Callable[[str, Offer], str],
        queue: CallQueue | None = None,
    ) -> None:
        self.redis = client
        self.presence = presence
        self.queue = queue or CallQueue(client)
        self.offers = Offers(client)
        self.telephony = telephony
        self.connect_url = connect_url
        self.lock_key = "{sl:queue}:dispatch-lock"
        self._unlock = client.register_script(_UNLOCK)

    def run(self, advisors: Iterable[AdvisorView], now: datetime, own_sid: str | None = None) -> DispatchResult:
        """One pass over the line. With `own_sid` (a waiting caller's own webhook) it waits briefly
        for a pass in progress; otherwise (someone else's webhook freed an advisor) it does not
        wait: the pass in progress, or the next one, serves the line."""
        result = DispatchResult(bridged=[])
        if self.queue.waiting() == 0:
            return result
        token = secrets.token_hex(8)
        if not self._lock(token, LOCK_WAIT_SECONDS if own_sid else 0.0):
            return result  # another dispatcher is still walking the line: it serves this caller too
        try:
            self._walk(list(advisors), now, own_sid, result)
        finally:
            self._unlock(keys=[self.lock_key], args=[token])
        return result

    def _lock(self, token: str, wait_seconds: float) -> bool:
        """Take the dispatch lock, waiting up to `wait_seconds` for a pass in progress (passes
        without carrier requests take a few milliseconds)."""
        deadline = time.monotonic() + wait_seconds
        while True:
            if self.redis.set(self.lock_key, token, nx=True, px=LOCK_MS):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)

    def _walk(self, roster: list[AdvisorView], now: datetime, own_sid: str | None, result: DispatchResult) -> None:
        snap = self.presence.snapshot([a.pk for a in roster], now)
        free = {pk for pk, p in snap.items() if p.available}
        if not free:
            return
        for entry in self.queue.entries():
            if not free:
                return
            decision = offer_for(entry, roster, free, now)  # whom this caller may have (routing.decision)
            if decision is None:
                continue  # nobody free fits this caller: the next one may still be served
            if self.offers.pending(entry.sid):
                continue  # already being put through
            pk = self.presence.reserve(
                decision.pool,
                skill=decision.skill,
                preferred_teams=decision.preferred_teams,
                call_sid=entry.sid,
                now=now,
                owner_pk=decision.owner_pk,
            )
            if pk is None:
                continue
            free.discard(pk)
            offer = self.offers.make(entry.sid, pk, now)
            if entry.sid == own_sid:
                result.own = offer
                result.bridged.append((entry.sid, pk))
            elif self._redirect(entry, offer, now):
                result.bridged.append((entry.sid, pk))
            else:
                free.add(pk)

    def _redirect(self, entry: Waiting, offer: Offer, now: datetime) -> bool:
        if self.telephony is None:
            return True  # the caller's own next hold webhook takes the offer
        try:
            self.telephony.update_call(entry.sid, url=self.connect_url(entry.sid, offer))
            return True
        except TelephonyError as exc:
            self.offers.drop(entry.sid)
            self.presence.release(offer.advisor_pk, entry.sid, now, missed=False)
            gone = isinstance(exc, CallNotInProgress) or exc.code == NOT_FOUND
            if gone:
                self.queue.leave(entry.sid)
            log.warning(
                "could not redirect waiting call %s to advisor %s: %s%s",
                entry.sid,
                offer.advisor_pk,
                exc,
                " (call gone: left the line)" if gone else "",
            )
            return False


def stale(offer: Offer, now: datetime) -> bool:
    return now.timestamp() - offer.made_at >= OFFER_STALE_SECONDS


__all__ = ["DispatchResult", "Dispatcher", "Offer", "Offers", "stale"]
