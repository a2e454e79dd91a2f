-- Scenario (t), row tml: MCP tools/list on /v1/mcp (the first page), in a session made once
-- before the run (see mcp_call.lua).
-- Usage: wrk ... -s bench/lua/mcp_list.lua URL -- SESSION USER
local seq = 0

function init(args)
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["Mcp-Session-Id"] = args[1]
  wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
  wrk.headers["x-user-id"] = args[2]
end

function request()
  seq = seq + 1
  return wrk.format("POST", "/v1/mcp", nil,
                    '{"jsonrpc":"2.0","id":' .. seq .. ',"method":"tools/list","params":{}}')
end
