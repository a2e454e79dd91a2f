-- Scenario (t), row tools-list: GET /v1/tools?userId=U, the whole list of the user's tools.
-- Usage: wrk ... -s bench/lua/tools_list.lua URL -- USER
function init(args)
  wrk.path = "/v1/tools?userId=" .. args[1]
end
