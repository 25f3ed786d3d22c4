-- wrk script: POST /v1/verify with one real token, as a staff member.
wrk.method = "POST"
wrk.body = '{"token": "' .. os.getenv("SC_TOKEN") .. '"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SC_STAFF")

function done(summary, latency, requests)
  io.write(string.format("non-2xx: %d\n", summary.errors.status))
end
