-- wrk script for bench/server_load.sh: POSTs the same run request on every request and
-- counts the responses that are not 200 (a run that did not finish within `wait`
-- answers 202; errors answer 4xx/5xx).
-- Usage: wrk ... -s post_run.lua URL -- BODY_FILE [AUTHORIZATION] [KEYED]
-- KEYED non-empty: every request carries a new Idempotency-Key (a first use each time).
local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "../lib.lua")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.body = bench.read_file(args[1])
  wrk.headers["Content-Type"] = "application/json"
  if args[2] ~= nil and args[2] ~= "" then
    wrk.headers["Authorization"] = args[2]
  end
  bench.init_counts(200)
  keyed = args[3] ~= nil and args[3] ~= ""
  if keyed then
    -- Unique across wrk threads and runs of the script: thread address, time, counter.
    key_prefix = string.format("bench-%s-%d-", tostring({}):match("0x(%x+)") or "t", os.time())
    key_count = 0
  end
  request_data = wrk.format()
end

function request()
  if keyed then
    key_count = key_count + 1
    wrk.headers["Idempotency-Key"] = key_prefix .. key_count
    return wrk.format()
  end
  return request_data
end

response = bench.counting_response("non-200 response")

function done(summary, latency, requests)
  local bad, by_status = bench.unexpected(threads)
  bench.report(summary, latency, {string.format("non200 %d %s", bad, by_status)},
               {string.format("mean_us %.1f", latency.mean)})
end
