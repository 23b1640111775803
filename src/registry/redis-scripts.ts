/**
 * The registry's Lua scripts. Each runs atomically in Redis, so a condition checked in a script still holds
 * when the script writes. Every write to a connection key is conditional on the epoch it names, except the
 * claim, which writes a new epoch higher than any the identity had. Nothing deletes a key unconditionally.
 *
 * Epochs are decimal strings in Redis and compared as strings: both sides format an integer below 2^53
 * without exponent ('%.0f' here, String(n) in JavaScript), so equal epochs are equal strings.
 */

/** The Redis server's clock in microseconds since 1970 (a float, exact below 2^53). */
const NOW_MICROS = `local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])`;

/** The Redis server's clock in milliseconds since 1970. */
const NOW_MILLIS = `local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

export interface ScriptDefinition {
  lua: string;
  readOnly?: boolean;
}

/**
 * KEYS[1] conn key, KEYS[2] epoch key; ARGV[1] instance id, ARGV[2] claim TTL ms, ARGV[3] epoch key TTL ms.
 * The new epoch is the server time in microseconds, raised above the last epoch remembered for the identity
 * (epoch key) and above the epoch of the current holder (conn key), so it grows even if one of them expired
 * or the clock stepped back. Returns {new epoch, previous instance or nil, previous epoch or nil}.
 */
export const CLAIM: ScriptDefinition = {
  lua: `${NOW_MICROS}
local previous = redis.call('HMGET', KEYS[1], 'instance', 'epoch')
local epoch = now_us
local remembered = tonumber(redis.call('GET', KEYS[2]))
if remembered ~= nil and remembered >= epoch then epoch = remembered + 1 end
local held = tonumber(previous[2])
if held ~= nil and held >= epoch then epoch = held + 1 end
local e = string.format('%.0f', epoch)
redis.call('SET', KEYS[2], e, 'PX', ARGV[3])
redis.call('HSET', KEYS[1], 'instance', ARGV[1], 'epoch', e)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {e, previous[1], previous[2]}`,
};

/** KEYS[1] conn key; ARGV[1] epoch. Deletes the key only while it holds that epoch; returns 1 if it did. */
export const RELEASE: ScriptDefinition = {
  lua: `if redis.call('HGET', KEYS[1], 'epoch') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
};

/**
 * KEYS conn keys; ARGV[1] claim TTL ms, ARGV[i + 1] the epoch held for KEYS[i]. Extends each key that still
 * holds its epoch; returns the (1-based) positions of the others.
 */
export const REFRESH: ScriptDefinition = {
  lua: `local lost = {}
for i, key in ipairs(KEYS) do
  if redis.call('HGET', key, 'epoch') == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
  else
    lost[#lost + 1] = i
  end
end
return lost`,
};

/** KEYS conn keys. Returns {instance, epoch} pairs flattened, nil for an identity nobody holds. */
export const OWNERS: ScriptDefinition = {
  readOnly: true,
  lua: `local out = {}
for i, key in ipairs(KEYS) do
  local h = redis.call('HMGET', key, 'instance', 'epoch')
  out[2 * i - 1] = h[1]
  out[2 * i] = h[2]
end
return out`,
};

/**
 * Instance registrations live in one hash, instance id → "<expiry ms> <token>", judged against the Redis clock
 * (TIME) by every script, so a registration is live or expired for all of them alike. This prelude reads the
 * clock and forgets the registrations whose expiry has passed (and only those).
 */
const INSTANCES_NOW = `${NOW_MILLIS}
local function expiry_of(value) return tonumber(string.match(value, '^(%d+) ')) end
local function token_of(value) return string.match(value, '^%d+ (.*)$') end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if expiry_of(all[i + 1]) <= now_ms then redis.call('HDEL', KEYS[1], all[i]) end
end
local current = redis.call('HGET', KEYS[1], ARGV[3])
local function hold() redis.call('HSET', KEYS[1], ARGV[3], string.format('%.0f', now_ms + tonumber(ARGV[2])) .. ' ' .. ARGV[1]) end`;

/**
 * KEYS[1] instances hash; ARGV[1] token, ARGV[2] TTL ms, ARGV[3] instance id. Takes the id unless a live
 * registration with another token holds it; the same token may register again. Returns 1, or 0 when taken.
 */
export const REGISTER_INSTANCE: ScriptDefinition = {
  lua: `${INSTANCES_NOW}
if current and token_of(current) ~= ARGV[1] then return 0 end
hold()
return 1`,
};

/** As REGISTER_INSTANCE, but only extends a live registration that carries this token; 0 when it is gone. */
export const HEARTBEAT_INSTANCE: ScriptDefinition = {
  lua: `${INSTANCES_NOW}
if not current or token_of(current) ~= ARGV[1] then return 0 end
hold()
return 1`,
};

/** KEYS[1] instances hash; ARGV[1] token, ARGV[2] instance id. Gives up our own registration only; 1 if it did. */
export const UNREGISTER_INSTANCE: ScriptDefinition = {
  lua: `local current = redis.call('HGET', KEYS[1], ARGV[2])
if not current or string.match(current, '^%d+ (.*)$') ~= ARGV[1] then return 0 end
return redis.call('HDEL', KEYS[1], ARGV[2])`,
};

/** KEYS[1] instances hash. The ids whose registration has not expired. */
export const LIVE_INSTANCES: ScriptDefinition = {
  readOnly: true,
  lua: `${NOW_MILLIS}
local live = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if tonumber(string.match(all[i + 1], '^(%d+) ')) > now_ms then live[#live + 1] = all[i] end
end
return live`,
};

/**
 * KEYS[1] transactionId counter; ARGV[1] block size, ARGV[2] highest id, ARGV[3] floor. Raises the counter to
 * the floor first (ids an earlier, embedded allocator may have handed out), then INCRBY the block, never past
 * the highest id. Returns {first, last}, or {0, 0} when no id is left.
 */
export const RESERVE_TRANSACTION_IDS: ScriptDefinition = {
  lua: `local last = tonumber(redis.call('GET', KEYS[1])) or 0
local floor = tonumber(ARGV[3])
if floor > last then
  redis.call('SET', KEYS[1], ARGV[3])
  last = floor
end
local highest = tonumber(ARGV[2])
if last >= highest then return {0, 0} end
local n = math.min(tonumber(ARGV[1]), highest - last)
local to = redis.call('INCRBY', KEYS[1], n)
return {to - n + 1, to}`,
};

/** KEYS[1] start key; ARGV[1] transactionId, ARGV[2] TTL ms. The first transactionId set wins; returns it. */
export const REMEMBER_START_TRANSACTION: ScriptDefinition = {
  lua: `local first = redis.call('GET', KEYS[1])
if first then return first end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]`,
};

export const SCRIPTS = {
  registryClaim: CLAIM,
  registryRelease: RELEASE,
  registryRefresh: REFRESH,
  registryOwners: OWNERS,
  registryRegisterInstance: REGISTER_INSTANCE,
  registryHeartbeatInstance: HEARTBEAT_INSTANCE,
  registryUnregisterInstance: UNREGISTER_INSTANCE,
  registryLiveInstances: LIVE_INSTANCES,
  registryReserveTransactionIds: RESERVE_TRANSACTION_IDS,
  registryRememberStartTransaction: REMEMBER_START_TRANSACTION,
} as const;

export type ScriptName = keyof typeof SCRIPTS;
