-- One lead's decision, as one atomic step: replay or refuse a known lead id,
-- else keep the account owner, else pick from the pool, then the overlays;
-- count the load, move the rotation credits, remember the owner and the record.
-- This is router/state/embedded.py `_decide` and router/state/rotation.py, step
-- for step; the contract tests run both stores on the same plans.
--
-- KEYS[1]  the lead's record (a hash); every other key is built from ARGV[1],
--          the rule set's prefix, whose hash tag keeps them all on KEYS[1]'s slot.
-- ARGV[2]  the call as one JSON object:
--          mode ("commit" or "preview"), now (epoch microseconds), record_ttl (ms),
--          load_ttl (s), fingerprint, decision_id, decided_at, rules_version,
--          fixed and fixed_day (a named account's owner, "" for none), sticky (the
--          account's owner key, "" for none), carriers and carriers_text (below),
--          then picks: the primary's pick first when has_primary is 1, then the
--          overlays'. A pick is [rotation, method, candidates], a candidate
--          [rep, weight, daily cap or false, local day]; JSON writes each weight
--          as the shortest text that reads back as the same double.
-- The reps who may keep the account (who sell the product, their local day, and
-- whether the rule files make them unavailable) are a hash, carriers:<digest>,
-- field rep -> "day\tblocked", named by a digest of their text and kept two days;
-- carriers is "" when nobody may keep it.
-- carriers_text ("rep\tday\tblocked\n" lines) comes with the first call that
-- names a digest; a call that needs a hash the server does not hold, and did
-- not bring its text, is answered {"carriers"} before anything is written.
-- Replies: {"fresh", outcome}, {"replayed", id, at, outcome, rules version},
-- {"conflict", id, at}, {"preview", outcome}, {"carriers"}; outcome is JSON.

local record_key = KEYS[1]
local prefix = ARGV[1]
local call = cjson.decode(ARGV[2])
local commit = call.mode == 'commit'
local now = call.now
local load_ttl = call.load_ttl

if commit then
  local record = redis.call('HMGET', record_key, 'fingerprint', 'decision_id', 'decided_at',
    'outcome', 'rules_version')
  if record[1] then
    if record[1] ~= call.fingerprint then
      return {'conflict', record[2], record[3]}
    end
    return {'replayed', record[2], record[3], record[4], record[5]}
  end
end

-- the plan ------------------------------------------------------------------

local fixed_rep, fixed_day = call.fixed, call.fixed_day
local sticky_key = call.sticky
local carriers_key = prefix .. 'carriers:' .. call.carriers

local function read_pick(packed)
  local pick = {rotation = packed[1], method = packed[2], candidates = {}}
  for i, candidate in ipairs(packed[3]) do
    pick.candidates[i] = {
      rep = candidate[1],
      weight = candidate[2],
      capacity = candidate[3] or nil,
      day = candidate[4],
    }
  end
  return pick
end

local primary_pick = nil
local overlay_picks = {}
for i, packed in ipairs(call.picks) do
  if call.has_primary == 1 and i == 1 then
    primary_pick = read_pick(packed)
  else
    overlay_picks[#overlay_picks + 1] = read_pick(packed)
  end
end

-- who may keep the account --------------------------------------------------

local function keep_carriers(text)
  if text == '' or redis.call('EXISTS', carriers_key) == 1 then
    return
  end
  local fields = {}
  for rep, card in string.gmatch(text, '([^\t\n]*)\t([^\n]*)\n') do
    fields[#fields + 1] = rep
    fields[#fields + 1] = card
    if #fields == 1000 then
      redis.call('HSET', carriers_key, unpack(fields))
      fields = {}
    end
  end
  if #fields > 0 then
    redis.call('HSET', carriers_key, unpack(fields))
  end
  redis.call('EXPIRE', carriers_key, 2 * 86400)
end

if call.carriers ~= '' then
  keep_carriers(call.carriers_text)
end

-- run-time availability (Availability.blocks) -------------------------------
-- One hash for the rule set, a field per rep: "paused\tfrom\tuntil\tfrom
-- text\tuntil text\tnote" (times in epoch microseconds, "" when unset; the note
-- last, as "-" for none or "+" and its text). Read for a whole pool at once.

local why_cache = {}

local function blocks(packed)
  local fields, start = {}, 1
  for i = 1, 5 do
    local stop = string.find(packed, '\t', start, true)
    fields[i] = string.sub(packed, start, stop - 1)
    start = stop + 1
  end
  local note = string.sub(packed, start + 1)
  if fields[1] == '1' then
    if note ~= '' then
      return 'paused (' .. note .. ')'
    end
    return 'paused'
  end
  local away_from = fields[2] ~= '' and tonumber(fields[2]) or nil
  local away_until = fields[3] ~= '' and tonumber(fields[3]) or nil
  if away_until and (away_from == nil or away_from <= now) and now < away_until then
    return 'out of office until ' .. fields[5]
  end
  if away_from and away_until == nil and now >= away_from then
    return 'out of office since ' .. fields[4]
  end
  return false
end

local function read_availability(reps)
  local missing = {}
  for _, rep in ipairs(reps) do
    if why_cache[rep] == nil then
      missing[#missing + 1] = rep
    end
  end
  if #missing == 0 then
    return
  end
  local packed = redis.call('HMGET', prefix .. 'availability', unpack(missing))
  for i, rep in ipairs(missing) do
    why_cache[rep] = packed[i] and blocks(packed[i]) or false
  end
end

local function unavailable(rep)
  read_availability({rep})
  return why_cache[rep] or nil
end

-- daily load ------------------------------------------------------------------

local loads = {}

local function load_key(rep, day)
  return prefix .. 'load:' .. rep .. ':' .. day
end

local function read_loads(candidates)
  local missing = {}
  for _, candidate in ipairs(candidates) do
    local key = load_key(candidate.rep, candidate.day)
    if loads[key] == nil then
      missing[#missing + 1] = key
    end
  end
  if #missing == 0 then
    return
  end
  local counts = redis.call('MGET', unpack(missing))
  for i, key in ipairs(missing) do
    loads[key] = tonumber(counts[i] or '0')
  end
end

local function load_of(rep, day)
  local key = load_key(rep, day)
  if loads[key] == nil then
    read_loads({{rep = rep, day = day}})
  end
  return loads[key]
end

local function taken(rep, day)
  local key = load_key(rep, day)
  loads[key] = load_of(rep, day) + 1
  if commit then
    redis.call('INCR', key)
    redis.call('EXPIRE', key, load_ttl)
  end
end

-- who is next in a pool (rotation.py) ---------------------------------------

local function available(pick)
  local kept, skipped, reps = {}, {}, {}
  for i, candidate in ipairs(pick.candidates) do
    reps[i] = candidate.rep
  end
  read_availability(reps)
  local counted = {}
  for _, candidate in ipairs(pick.candidates) do
    if candidate.capacity ~= nil or pick.method == 'least_loaded' then
      counted[#counted + 1] = candidate
    end
  end
  read_loads(counted)
  for _, candidate in ipairs(pick.candidates) do
    local why = unavailable(candidate.rep)
    if why then
      skipped[#skipped + 1] = {candidate.rep, why}
    else
      local full = false
      if candidate.capacity ~= nil then
        local load = load_of(candidate.rep, candidate.day)
        if load >= candidate.capacity then
          full = true
          skipped[#skipped + 1] = {candidate.rep,
            'at daily capacity (' .. load .. '/' .. candidate.capacity .. ')'}
        end
      end
      if not full then
        kept[#kept + 1] = candidate
      end
    end
  end
  return kept, skipped
end

-- The fewest leads today; ties go to the lower share of the daily cap used
-- (uncapped counts as zero), then to the first in the pool's order.
local function least_loaded(kept)
  local best, best_load, best_share = nil, nil, nil
  for _, candidate in ipairs(kept) do
    local load = load_of(candidate.rep, candidate.day)
    local share = 0.0
    if candidate.capacity ~= nil and candidate.capacity ~= 0 then
      share = load / candidate.capacity
    end
    if best == nil or load < best_load or (load == best_load and share < best_share) then
      best, best_load, best_share = candidate, load, share
    end
  end
  return best
end

-- Credits are stored with 17 significant digits, which reads back as the very
-- same double: Lua and Python then do the same additions in the same order.
local function by_credit(rotation, kept)
  local credits_key = prefix .. 'credits:' .. rotation
  local reps = {}
  for i, candidate in ipairs(kept) do
    reps[i] = candidate.rep
  end
  local stored = redis.call('HMGET', credits_key, unpack(reps))
  local credit_of = {}
  for i, rep in ipairs(reps) do
    if stored[i] then
      credit_of[rep] = tonumber(stored[i])
    end
  end
  local total = 0.0
  local updated, order = {}, {}
  local best = nil
  for _, candidate in ipairs(kept) do
    local credit = (credit_of[candidate.rep] or 0.0) + candidate.weight
    if updated[candidate.rep] == nil then
      order[#order + 1] = candidate.rep
    end
    updated[candidate.rep] = credit
    total = total + candidate.weight
    if best == nil or credit > updated[best.rep] then
      best = candidate
    end
  end
  updated[best.rep] = updated[best.rep] - total
  if commit then
    local fields = {}
    for _, rep in ipairs(order) do
      fields[#fields + 1] = rep
      fields[#fields + 1] = string.format('%.17g', updated[rep])
    end
    redis.call('HSET', credits_key, unpack(fields))
  end
  return best
end

local function choose(pick)
  local kept, skipped = available(pick)
  if #kept == 0 then
    return nil, skipped
  end
  if pick.method == 'least_loaded' then
    return least_loaded(kept), skipped
  end
  return by_credit(pick.rotation, kept), skipped
end

-- the decision ----------------------------------------------------------------

-- The owner's card: {day, blocked}, or nil for a rep who does not sell the product.
local function carrier(rep)
  if call.carriers == '' then
    return nil
  end
  local card = redis.call('HGET', carriers_key, rep)
  if not card then
    return nil
  end
  return {day = string.sub(card, 1, -3), blocked = string.sub(card, -1) == '1'}
end

local outcome = {via = 'none', skipped = {}, overlays = {}, overlay_skipped = {}}
local owner = false
local owner_card = nil
local owner_key = prefix .. 'owner:' .. sticky_key

if fixed_rep ~= '' then
  outcome.primary, outcome.via = fixed_rep, 'named'
  taken(fixed_rep, fixed_day)
elseif sticky_key ~= '' then
  owner = redis.call('GET', owner_key)
  if owner then
    if call.carriers ~= '' and redis.call('EXISTS', carriers_key) == 0 then
      return {'carriers'}
    end
    owner_card = carrier(owner)
    if owner_card and not owner_card.blocked and not unavailable(owner) then
      outcome.primary, outcome.via = owner, 'sticky'
      taken(owner, owner_card.day)
    else
      outcome.previous_owner = owner
    end
  end
end

if outcome.primary == nil and primary_pick ~= nil then
  local chosen
  chosen, outcome.skipped = choose(primary_pick)
  if chosen ~= nil then
    outcome.primary, outcome.via = chosen.rep, 'pool'
    taken(chosen.rep, chosen.day)
    if commit and sticky_key ~= '' and not (owner and owner_card) then
      redis.call('SET', owner_key, chosen.rep)
    end
  end
end

for i, pick in ipairs(overlay_picks) do
  local chosen, skipped = choose(pick)
  outcome.overlays[i] = chosen and chosen.rep or cjson.null
  outcome.overlay_skipped[i] = skipped
  if chosen ~= nil then
    taken(chosen.rep, chosen.day)
  end
end

local encoded = cjson.encode(outcome)
if not commit then
  return {'preview', encoded}
end
redis.call('HSET', record_key, 'fingerprint', call.fingerprint, 'decision_id', call.decision_id,
  'decided_at', call.decided_at, 'rules_version', call.rules_version, 'outcome', encoded)
redis.call('PEXPIRE', record_key, call.record_ttl)
return {'fresh', encoded}
