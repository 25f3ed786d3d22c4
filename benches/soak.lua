-- wrk script for the soak: a mixed load. 70 % POST /v1/verify (staff, any code), 20 % GET
-- /v1/residents/me/code (a resident), 5 % admissions (each a code never admitted before: the
-- pool is sliced by $SC_OFFSET per run and by thread), 5 % acknowledgements of one alert.
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

local codes, residents = {}, {}
local admitted = 0
local shelter, staff, alert, offset, stride

function init(args)
  for line in io.lines(os.getenv("SC_CODES_FILE")) do
    if #line > 0 then codes[#codes + 1] = line end
  end
  for line in io.lines(os.getenv("SC_RESIDENTS_FILE")) do
    if #line > 0 then residents[#residents + 1] = line end
  end
  shelter = {}
  for id in string.gmatch(os.getenv("SC_SHELTER"), "[^,]+") do shelter[#shelter + 1] = id end
  staff = "Bearer " .. os.getenv("SC_STAFF")
  alert = os.getenv("SC_ALERT")
  offset = tonumber(os.getenv("SC_OFFSET") or "0")
  stride = tonumber(os.getenv("SC_THREADS") or "2")
  math.randomseed(os.time() * 7 + tid)
end

local json = {["Content-Type"] = "application/json"}

function request()
  local r = math.random(100)
  if r <= 70 then
    return wrk.format("POST", "/v1/verify", {["Content-Type"] = "application/json", ["Authorization"] = staff},
      '{"token": "' .. codes[math.random(#codes)] .. '"}')
  elseif r <= 90 then
    return wrk.format("GET", "/v1/residents/me/code",
      {["Authorization"] = "Bearer " .. residents[math.random(#residents)]}, nil)
  elseif r <= 95 then
    local n = offset + admitted * stride + tid + 1
    admitted = admitted + 1
    return wrk.format("POST", "/v1/shelters/" .. shelter[n % #shelter + 1] .. "/checkins",
      {["Content-Type"] = "application/json", ["Authorization"] = staff},
      '{"token": "' .. codes[(n - 1) % #codes + 1] .. '"}')
  else
    return wrk.format("POST", "/v1/alerts/" .. alert .. "/ack",
      {["Authorization"] = "Bearer " .. residents[math.random(#residents)]}, nil)
  end
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx: %d\n", summary.errors.status))
  io.write(string.format("socket-errors: %d\n", summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
end
