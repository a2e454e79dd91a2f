-- Scenarios (t) row mcp-call and (m): MCP tools/call over Streamable HTTP, in a session made
-- once before the run (bench/run.sh sends initialize and notifications/initialized with curl
-- and passes the Mcp-Session-Id here), so that every request measured is a tools/call.
-- Usage: wrk ... -s bench/lua/mcp_call.lua URL -- PATH SESSION TOOL ARGUMENTS_JSON [USER]
-- USER, when given, goes in x-user-id (toolregistry's /v1/mcp); a server that answers in SSE
-- (text/event-stream) is accepted as well as JSON.
local seq = 0
local path, tool, arguments

function init(args)
  path, tool, arguments = args[1], args[3], args[4]
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["Mcp-Session-Id"] = args[2]
  wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
  if args[5] then wrk.headers["x-user-id"] = args[5] end
end

function request()
  seq = seq + 1
  local body = '{"jsonrpc":"2.0","id":' .. seq .. ',"method":"tools/call","params":{"name":"' ..
               tool .. '","arguments":' .. arguments .. '}}'
  return wrk.format("POST", path, nil, body)
end
