-- wrk script: POST /signature on the baseline server with the token in $SC_BASE_TOKEN.
wrk.method = "POST"
wrk.body = '{"token": "' .. os.getenv("SC_BASE_TOKEN") .. '"}'
wrk.headers["Content-Type"] = "application/json"
