"""The Lua scripts behind `routing.presence`: each presence transition as one atomic step in Redis.

Redis runs a script without interleaving any other command, which is what makes `Presence.reserve`
(read the candidates, pick the best free one, mark them on_call) safe across workers, and lets every
other transition check the state and call sid it expects before writing. `routing.presence` registers
them (EVALSHA) and owns their meaning; the fields are those of its module docstring. Each script's
comment gives its KEYS and ARGV.
"""

# Shared helpers. Timestamps travel as Python float reprs and are written back with %.17g, which
# round-trips a double exactly (tostring's %.14g would drop the microseconds).
PRELUDE = """
local function num(v)
  if v == false or v == nil or v == '' then return nil end
  return tonumber(v)
end
local function fmt(x) return string.format('%.17g', x) end
-- the state as seen at `now`: an elapsed wrap-up is available since its end
local function effective(state, wrap_until, now)
  state = state or 'offline'
  if state == 'wrap_up' then
    local w = num(wrap_until)
    if w ~= nil and w <= now then return 'available', w end
  end
  return state, nil
end
"""


def _with_prelude(body: str) -> str:
    """A script that starts with the shared helpers (the prelude above)."""
    return PRELUDE + body


# KEYS[i]: advisor hashes (the owner first when ARGV[4] == '1').
# ARGV: now, today, call_sid, has_owner, then (pk, team_rank) per key.
RESERVE = _with_prelude("""
local now = tonumber(ARGV[1])
local today = ARGV[2]
local sid = ARGV[3]
local has_owner = ARGV[4] == '1'
local best = nil
for i = 1, #KEYS do
  local f = redis.call('HMGET', KEYS[i], 'state', 'idle_since', 'since', 'wrap_until',
                       'calls_today', 'calls_date', 'call_sid')
  local pk = tonumber(ARGV[3 + 2 * i])
  if f[1] == 'on_call' and f[7] == sid then return pk end
  local eff, wrap_end = effective(f[1], f[4], now)
  if eff == 'available' then
    local c = {i = i, pk = pk, rank = tonumber(ARGV[4 + 2 * i]),
               idle = wrap_end or num(f[2]) or num(f[3]) or 0, calls = 0}
    if f[6] == today then c.calls = num(f[5]) or 0 end
    if has_owner and i == 1 then
      c.rank = -1  -- the free owner beats everyone
    end
    if best == nil
       or c.rank < best.rank
       or (c.rank == best.rank and (c.idle < best.idle
           or (c.idle == best.idle and (c.calls < best.calls
               or (c.calls == best.calls and c.pk < best.pk))))) then
      best = c
    end
  end
end
if best == nil then return false end
redis.call('HSET', KEYS[best.i], 'state', 'on_call', 'since', ARGV[1], 'idle_since', fmt(best.idle),
           'call_sid', sid, 'accepted_sid', '', 'wrap_until', '')
return best.pk
""")

# KEYS: advisor hash, registry. ARGV: now, new state, reason, pk. Returns 1 when something changed.
SET_STATE = _with_prelude("""
local now = tonumber(ARGV[1])
local new = ARGV[2]
local f = redis.call('HMGET', KEYS[1], 'state', 'wrap_until', 'away_reason')
local eff, wrap_end = effective(f[1], f[2], now)
redis.call('SADD', KEYS[2], ARGV[4])
if new == 'available' then
  if eff == 'available' then
    if wrap_end ~= nil then  -- write the elapsed wrap-up down; idle since it ended
      redis.call('HSET', KEYS[1], 'state', 'available', 'since', fmt(wrap_end),
                 'idle_since', fmt(wrap_end), 'wrap_until', '')
      return 1
    end
    return 0
  end
  redis.call('HSET', KEYS[1], 'state', 'available', 'since', ARGV[1], 'idle_since', ARGV[1],
             'missed', '0', 'away_reason', '', 'call_sid', '', 'accepted_sid', '', 'wrap_until', '')
  return 1
end
if eff == new then
  if new == 'away' and f[3] ~= ARGV[3] then
    redis.call('HSET', KEYS[1], 'away_reason', ARGV[3])
    return 1
  end
  if new == 'wrap_up' and num(f[2]) ~= nil then  -- open-ended now; `since` keeps its start
    redis.call('HSET', KEYS[1], 'wrap_until', '')
    return 1
  end
  return 0
end
local reason = ''
if new == 'away' then reason = ARGV[3] end
redis.call('HSET', KEYS[1], 'state', new, 'since', ARGV[1], 'away_reason', reason,
           'call_sid', '', 'accepted_sid', '', 'wrap_until', '')
return 1
""")

# KEYS: advisor hash. ARGV: now, call_sid, missed ('1'/'0'), limit, reason.
# Returns the new state, or '' when the sid is not the advisor's unaccepted reservation.
RELEASE = """
local f = redis.call('HMGET', KEYS[1], 'state', 'call_sid', 'accepted_sid', 'missed')
if f[1] ~= 'on_call' or f[2] ~= ARGV[2] or f[3] == ARGV[2] then return '' end
local missed = tonumber(f[4] or '0') or 0
if ARGV[3] == '1' then missed = missed + 1 end
local limit = tonumber(ARGV[4])
if limit > 0 and missed >= limit then
  redis.call('HSET', KEYS[1], 'state', 'away', 'since', ARGV[1], 'away_reason', ARGV[5],
             'missed', tostring(missed), 'call_sid', '', 'accepted_sid', '')
  return 'away'
end
redis.call('HSET', KEYS[1], 'state', 'available', 'since', ARGV[1], 'missed', tostring(missed),
           'call_sid', '', 'accepted_sid', '')
return 'available'
"""

# KEYS: advisor hash. ARGV: call_sid, today. Returns 1 when counted (0: wrong sid or duplicate).
ACCEPTED = """
local f = redis.call('HMGET', KEYS[1], 'state', 'call_sid', 'accepted_sid', 'calls_today', 'calls_date')
if f[1] ~= 'on_call' or f[2] ~= ARGV[1] or f[3] == ARGV[1] then return 0 end
local calls = 0
if f[5] == ARGV[2] then calls = tonumber(f[4]) or 0 end
redis.call('HSET', KEYS[1], 'missed', '0', 'calls_today', tostring(calls + 1),
           'calls_date', ARGV[2], 'accepted_sid', ARGV[1])
return 1
"""

# KEYS: advisor hash. ARGV: now, wrap_until, call_sid ('' = whatever call they hold).
CALL_ENDED = """
local f = redis.call('HMGET', KEYS[1], 'state', 'call_sid')
if f[1] ~= 'on_call' then return 0 end
if ARGV[3] ~= '' and f[2] ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'wrap_up', 'since', ARGV[1], 'wrap_until', ARGV[2],
           'call_sid', '', 'accepted_sid', '')
return 1
"""

# KEYS: advisor hash, registry. ARGV: expected sid ('' = only when there is no record), since,
# call_sid ('' = wrap-up), wrap_until, pk. Returns 1 when the record was written.
ADOPT = """
if ARGV[1] == '' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
else
  local f = redis.call('HMGET', KEYS[1], 'state', 'call_sid', 'accepted_sid')
  if f[1] ~= 'on_call' or f[2] ~= ARGV[1] or f[3] == ARGV[1] then return 0 end
end
redis.call('SADD', KEYS[2], ARGV[5])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'state', 'on_call', 'since', ARGV[2], 'call_sid', ARGV[3],
             'accepted_sid', '', 'wrap_until', '', 'away_reason', '')
else
  redis.call('HSET', KEYS[1], 'state', 'wrap_up', 'since', ARGV[2], 'wrap_until', ARGV[4],
             'idle_since', ARGV[4], 'call_sid', '', 'accepted_sid', '', 'away_reason', '')
end
return 1
"""

# KEYS: advisor hash. ARGV: now, active ('1'/'0'), max_wrap_seconds, check_sid ('1'/'0'), dead sid.
# Returns the advisor's state at `now` after a change, or '' when nothing changed.
RECONCILE = _with_prelude("""
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'state', 'call_sid', 'since', 'wrap_until')
if not f[1] or f[1] == 'offline' then return '' end
if ARGV[2] == '0' then
  redis.call('HSET', KEYS[1], 'state', 'offline', 'since', ARGV[1], 'away_reason', '',
             'call_sid', '', 'accepted_sid', '', 'wrap_until', '')
  return 'offline'
end
if f[1] == 'on_call' and ARGV[4] == '1' and (f[2] or '') == ARGV[5] then
  redis.call('HSET', KEYS[1], 'state', 'wrap_up', 'since', ARGV[1], 'wrap_until', ARGV[1],
             'call_sid', '', 'accepted_sid', '')
  return 'available'
end
if f[1] == 'wrap_up' then
  local limit = (num(f[3]) or now) + tonumber(ARGV[3])
  local w = num(f[4])
  if w == nil or w > limit then
    redis.call('HSET', KEYS[1], 'wrap_until', fmt(limit))
    return (effective('wrap_up', fmt(limit), now))
  end
end
return ''
""")
