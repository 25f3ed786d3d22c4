-- wrk script: POST /v1/shelters/$SC_SHELTER/checkins as that shelter's staff, each request a
-- different resident's code (one per line in $SC_TOKENS_FILE). Threads take interleaved slices
-- so no code is admitted twice; if the pool runs out, the repeats answer 409 and show up as
-- non-2xx below.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  threads[#threads + 1] = thread
end

local tokens = {}
local i = 0
local stride = 1

function init(args)
  for line in io.lines(os.getenv("SC_TOKENS_FILE")) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  stride = tonumber(os.getenv("SC_THREADS") or "2")
  wrk.method = "POST"
  wrk.path = "/v1/shelters/" .. os.getenv("SC_SHELTER") .. "/checkins"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("SC_STAFF")
end

function request()
  local n = (i * stride + tid) % #tokens + 1
  i = i + 1
  return wrk.format(nil, nil, nil, '{"token": "' .. tokens[n] .. '"}')
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx: %d\n", summary.errors.status))
end
