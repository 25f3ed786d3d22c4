-- wrk script: POST /v1/alerts/$SC_ALERT/ack, each request as a different resident (access
-- tokens one per line in $SC_TOKENS_FILE), cycling.
local tokens = {}
local i = 0

function init(args)
  for line in io.lines(os.getenv("SC_TOKENS_FILE")) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  wrk.method = "POST"
  wrk.path = "/v1/alerts/" .. os.getenv("SC_ALERT") .. "/ack"
end

function request()
  i = i % #tokens + 1
  return wrk.format(nil, nil, {["Authorization"] = "Bearer " .. tokens[i]}, nil)
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx: %d\n", summary.errors.status))
end
