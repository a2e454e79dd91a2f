-- Scenario (t), row tool-call: POST /v1/tools/{name}/call for one connected user, the same
-- request every time (a GET of the upstream's item.json, no arguments).
-- Usage: wrk ... -s bench/lua/tool_call.lua URL -- TOOL USER
function init(args)
  wrk.method = "POST"
  wrk.path = "/v1/tools/" .. args[1] .. "/call"
  wrk.body = '{"userId":"' .. args[2] .. '","arguments":{}}'
  wrk.headers["Content-Type"] = "application/json"
end
