-- Scenario (d): 90% reads as in read.lua, 10% writes as in write.lua (chosen at random per
-- request).
-- Usage: wrk ... -s bench/lua/mixed.lua URL -- CID N TAG
local cid, n, tag
local seq = 0
local counter = 0
local post_headers = {}

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  cid = args[1]
  n = tonumber(args[2])
  tag = args[3]
  math.randomseed(os.time() * 1000 + (tid or 0))
  for k, v in pairs(wrk.headers) do post_headers[k] = v end
  post_headers["Content-Type"] = "application/json"
end

function request()
  if math.random() < 0.1 then
    seq = seq + 1
    return wrk.format("POST", "/v1/integrations/" .. cid .. "/users/m-" .. tag .. "-" .. tid ..
                      "-" .. seq .. "/auth-url", post_headers, "{}")
  end
  return wrk.format("GET", "/v1/integrations/" .. cid .. "/users/user-" .. math.random(1, n))
end
