-- Scenario (c): POST /v1/integrations/{cid}/users/{userId}/auth-url for a new user on every
-- request (the durable write path: a new user and a connect session per request).
-- userId = "w-<tag>-<thread>-<counter>"; the tag is unique per run, so no id repeats.
-- Usage: wrk ... -s bench/lua/write.lua URL -- CID TAG
local cid, tag
local seq = 0
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  cid = args[1]
  tag = args[2]
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  seq = seq + 1
  return wrk.format("POST", "/v1/integrations/" .. cid .. "/users/w-" .. tag .. "-" .. tid ..
                    "-" .. seq .. "/auth-url", nil, "{}")
end
