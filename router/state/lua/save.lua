-- Keep the full decision body next to the lead's record, under the record's own
-- expiry; a record that has expired is not brought back without one.
-- KEYS[1] the lead's record; ARGV[1] the decision id; ARGV[2] the decision body.
if redis.call('HGET', KEYS[1], 'decision_id') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'decision', ARGV[2])
return 1
