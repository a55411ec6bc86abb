"""Console sign-in throttling: one atomic check-and-count per attempt, before the password is checked.

Each attempt is counted as a failure *before* the password is evaluated, in one Lua script that
first checks the locks, so parallel guesses cannot all slip in between a check and a count; a
success then takes its count back. Counters are sliding 15-minute windows on the injected clock:

* account + address: 5 failures lock that account *from that address* for 15 minutes. Another
  client is not affected, so nobody can lock an account out for everyone from one address.
* address: 20 failures (any accounts) lock that address out of every account for 15 minutes
  (password spraying from one client). An address lock never locks an account for anyone else.
* account: 30 failures from all addresses (a distributed guess) lock that account for 15 minutes
  for every address that has not signed in to it in the last 30 days; addresses it has signed in
  from still get their own account + address allowance. So a botnet can slow an account's new
  devices down for a while, but cannot keep its user out.

The client address is the one `ProxyFix` derives from `TRUSTED_PROXIES` (webhooks/app.py); with the
default 0 it is the socket's peer and X-Forwarded-For is ignored, so it cannot be forged.

While Redis is unreachable (the app's breaker, `casestore.redisguard`) the account + address and
address counters are kept in the database (`AuthFailure`, subjects `adm:` + a hash, apart from the PIN
lockout's): counting fails closed, a lock lasts until enough failures leave the window, and the
account-wide counter is not kept. Key names and subjects are hashes: no usernames or addresses.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from casestore.models import AuthFailure
from casestore.redisguard import ERRORS, Breaker

WINDOW_SECONDS = 15 * 60
LOCK_SECONDS = 15 * 60
PAIR_MAX_FAILURES = 5
ADDRESS_MAX_FAILURES = 20
ACCOUNT_MAX_FAILURES = 30
KNOWN_ADDRESS_SECONDS = 30 * 24 * 3600

# KEYS: pair fail, pair lock, address fail, address lock, account fail, account lock, known addresses
# ARGV: now, window, lock seconds, pair max, address max, account max, attempt id, address hash
_BEGIN = """
local now = tonumber(ARGV[1])
local window, lock_s = tonumber(ARGV[2]), tonumber(ARGV[3])
local function locked(key)
  local until_ts = redis.call('GET', key)
  return until_ts and tonumber(until_ts) > now
end
if locked(KEYS[2]) or locked(KEYS[4]) then return 0 end
if locked(KEYS[6]) and redis.call('SISMEMBER', KEYS[7], ARGV[8]) == 0 then return 0 end
local function count(fail, lock, max)
  redis.call('ZREMRANGEBYSCORE', fail, '-inf', now - window)
  redis.call('ZADD', fail, now, ARGV[7])
  redis.call('EXPIRE', fail, window + 60)
  if redis.call('ZCARD', fail) >= max then
    redis.call('SET', lock, string.format('%.3f', now + lock_s), 'EX', lock_s + 60)
  end
end
count(KEYS[1], KEYS[2], tonumber(ARGV[4]))
count(KEYS[3], KEYS[4], tonumber(ARGV[5]))
count(KEYS[5], KEYS[6], tonumber(ARGV[6]))
return 1
"""

# Same KEYS; ARGV: attempt id, address hash, address max, account max, known-address seconds
_SUCCEEDED = """
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('ZCARD', KEYS[3]) < tonumber(ARGV[3]) then redis.call('DEL', KEYS[4]) end
redis.call('ZREM', KEYS[5], ARGV[1])
if redis.call('ZCARD', KEYS[5]) < tonumber(ARGV[4]) then redis.call('DEL', KEYS[6]) end
redis.call('SADD', KEYS[7], ARGV[2])
redis.call('EXPIRE', KEYS[7], tonumber(ARGV[5]))
return 1
"""


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:48]


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt, already counted as a failure; `allowed` False: refused (locked)."""

    allowed: bool
    account: str
    address: str
    token: str = ""
    rows: tuple[int, ...] = ()  # its AuthFailure rows when counted in the database


class SigninThrottle:
    """Check and count console sign-in attempts, per account + address, address and account."""

    def __init__(self, client: redis.Redis, prefix: str = "sl:signin", *, breaker: Breaker) -> None:
        """`breaker`: the app's Redis breaker (`casestore.redisguard.Breakers.redis`)."""
        self.redis = client
        self.prefix = prefix
        self.breaker = breaker
        self._begin = client.register_script(_BEGIN)
        self._succeeded = client.register_script(_SUCCEEDED)

    def _keys(self, account: str, address: str) -> list[str]:
        p = self.prefix
        pair, addr, acct = _digest("pair", f"{account}|{address}"), _digest("addr", address), _digest("acct", account)
        return [
            f"{p}:fail:{pair}",
            f"{p}:lock:{pair}",
            f"{p}:fail:{addr}",
            f"{p}:lock:{addr}",
            f"{p}:fail:{acct}",
            f"{p}:lock:{acct}",
            f"{p}:known:{acct}",
        ]

    def begin(self, session: Session, now: datetime, account: str, address: str) -> Attempt:
        """Refuse the attempt when a lock applies, else count it (as a failure until `succeeded`).
        The caller commits `session` before checking the password (the database stand-in's count
        must be visible to parallel attempts)."""
        token = f"{now.timestamp():.6f}:{secrets.token_hex(8)}"
        if self.breaker.usable():
            try:
                ok = self._begin(
                    keys=self._keys(account, address),
                    args=[
                        f"{now.timestamp():.6f}",
                        WINDOW_SECONDS,
                        LOCK_SECONDS,
                        PAIR_MAX_FAILURES,
                        ADDRESS_MAX_FAILURES,
                        ACCOUNT_MAX_FAILURES,
                        token,
                        _digest("addr", address),
                    ],
                )
                self.breaker.succeeded()
                return Attempt(bool(ok), account, address, token)
            except ERRORS as exc:
                self.breaker.failed(exc)
        return self._db_begin(session, now, account, address)

    def succeeded(self, session: Session, attempt: Attempt) -> None:
        """The password was right: take the attempt's count back, forget this account + address's
        failures, and remember the address as one the account signs in from."""
        if attempt.rows:
            self._db_succeeded(session, attempt)
            return
        if self.breaker.usable():
            try:
                self._succeeded(
                    keys=self._keys(attempt.account, attempt.address),
                    args=[
                        attempt.token,
                        _digest("addr", attempt.address),
                        ADDRESS_MAX_FAILURES,
                        ACCOUNT_MAX_FAILURES,
                        KNOWN_ADDRESS_SECONDS,
                    ],
                )
                self.breaker.succeeded()
            except ERRORS as exc:
                self.breaker.failed(exc)

    # -- the database stand-in (Redis unreachable): counting still works, so sign-in fails closed --

    @staticmethod
    def _subjects(account: str, address: str) -> tuple[str, str]:
        return "adm:p:" + _digest("pair", f"{account}|{address}"), "adm:a:" + _digest("addr", address)

    @staticmethod
    def _db_counts(session: Session, now: datetime, subjects: tuple[str, str]) -> list[int]:
        since = now - timedelta(seconds=WINDOW_SECONDS)
        return [
            int(
                session.scalar(
                    select(func.count())
                    .select_from(AuthFailure)
                    .where(AuthFailure.subject == s, AuthFailure.at > since)
                )
                or 0
            )
            for s in subjects
        ]

    def _db_begin(self, session: Session, now: datetime, account: str, address: str) -> Attempt:
        subjects = self._subjects(account, address)
        limits = (PAIR_MAX_FAILURES, ADDRESS_MAX_FAILURES)
        if any(n >= limit for n, limit in zip(self._db_counts(session, now, subjects), limits, strict=True)):
            return Attempt(False, account, address)
        rows = [AuthFailure(subject=s, at=now) for s in subjects]
        session.add_all(rows)
        session.flush()
        # Counted again with this attempt's rows in: a parallel attempt seen here refuses both (closed).
        allowed = all(n <= limit for n, limit in zip(self._db_counts(session, now, subjects), limits, strict=True))
        return Attempt(allowed, account, address, rows=tuple(r.id for r in rows))

    def _db_succeeded(self, session: Session, attempt: Attempt) -> None:
        pair, _addr = self._subjects(attempt.account, attempt.address)
        session.execute(delete(AuthFailure).where((AuthFailure.subject == pair) | AuthFailure.id.in_(attempt.rows)))
        session.flush()
