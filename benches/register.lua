-- wrk script: POST /v1/residents with a new, valid PRC resident ID on every request.
-- Each wrk thread numbers its own requests; ids never repeat within a run (fresh database).

local weights = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
local checks = "10X98765432"
local counter = 0
-- thread_no is a global: setup() sets it in each thread's own Lua state.
thread_no = 0
local threads = 0

function setup(thread)
  thread:set("thread_no", threads)
  threads = threads + 1
end

local function id_number(n)
  -- Birth day from 1971-01-01 plus up to 19,999 days; a 3-digit sequence on top.
  local day = n % 20000
  local seq = math.floor(n / 20000) % 1000
  local birth = os.date("!%Y%m%d", 31536000 + day * 86400)
  local first17 = string.format("330109%s%03d", birth, seq)
  local sum = 0
  for i = 1, 17 do
    sum = sum + tonumber(first17:sub(i, i)) * weights[i]
  end
  local c = (sum % 11) + 1
  return first17 .. checks:sub(c, c)
end

function request()
  counter = counter + 1
  local n = counter * 16 + thread_no
  local body = string.format(
    '{"name":"压测居民","id_number":"%s","phone":"139%08d","location":{"lat":30.2,"lon":120.3},"needs":[]}',
    id_number(n), n % 100000000)
  return wrk.format("POST", "/v1/residents", {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx: %d\n", summary.errors.status))
end
