-- wrk script: POST /v1/verify as a staff member, cycling through real tokens of different
-- residents (one per line in $SC_TOKENS_FILE), so that nothing per-token can be reused.
local tokens = {}
for line in io.lines(os.getenv("SC_TOKENS_FILE")) do
  if #line > 0 then tokens[#tokens + 1] = line end
end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("SC_STAFF") or "")

function request()
  i = i % #tokens + 1
  return wrk.format(nil, nil, nil, '{"token": "' .. tokens[i] .. '"}')
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx: %d\n", summary.errors.status))
end
