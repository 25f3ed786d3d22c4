-- wrk script: GET a path as many different residents, cycling through their bearer tokens
-- (one per line in $SC_ACCESS_FILE), as a zone opening their codes after an alert does.
local tokens = {}
for line in io.lines(os.getenv("SC_ACCESS_FILE")) do
  if #line > 0 then tokens[#tokens + 1] = line end
end
local i = 0

function request()
  i = i % #tokens + 1
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. tokens[i] }, nil)
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx: %d\n", summary.errors.status))
end
