-- Scenario (b): GET /v1/integrations/{cid}/users/{userId}, userId drawn uniformly at random
-- from user-1 .. user-N (the users bench/seed-users.sh created).
-- Usage: wrk ... -s bench/lua/read.lua URL -- CID N
local cid, n
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  cid = args[1]
  n = tonumber(args[2])
  math.randomseed(os.time() * 1000 + (tid or 0))
end

function request()
  return wrk.format("GET", "/v1/integrations/" .. cid .. "/users/user-" .. math.random(1, n))
end
