-- Scenario (pu): POST of a 1 MiB body through the proxy (the URL on wrk's command line).
-- Usage: wrk ... -s bench/lua/upload.lua URL
wrk.method = "POST"
wrk.body = string.rep("x", 1024 * 1024)
wrk.headers["Content-Type"] = "application/octet-stream"
