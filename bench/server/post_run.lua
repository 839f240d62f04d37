-- wrk script for bench/server_load.sh: POSTs the same run request on every request and
-- counts the responses that are not 200 (a run that did not finish within `wait`
-- answers 202; errors answer 4xx/5xx).
-- Usage: wrk ... -s post_run.lua URL -- BODY_FILE [AUTHORIZATION]
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
  if args[2] ~= nil and args[2] ~= "" then
    wrk.headers["Authorization"] = args[2]
  end
  non200 = 0
  statuses = {}
  request_data = wrk.format()
end

function request()
  return request_data
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    statuses[status] = (statuses[status] or 0) + 1
    if non200 <= 3 then
      io.stderr:write(string.format("non-200 response %d: %s\n", status, string.sub(body or "", 1, 300)))
    end
  end
end

function done(summary, latency, requests)
  local bad = 0
  local by_status = {}
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non200")
    for code, n in pairs(thread:get("statuses")) do
      by_status[code] = (by_status[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(by_status) do table.insert(parts, code .. "=" .. n) end
  -- Machine-readable lines parsed by server_load.sh.
  io.write(string.format("BENCH requests %d\n", summary.requests))
  io.write(string.format("BENCH duration_us %d\n", summary.duration))
  io.write(string.format("BENCH non200 %d %s\n", bad, table.concat(parts, ",")))
  io.write(string.format("BENCH errors connect=%d read=%d write=%d status=%d timeout=%d\n",
                         summary.errors.connect, summary.errors.read, summary.errors.write,
                         summary.errors.status, summary.errors.timeout))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("BENCH p%s_us %d\n", tostring(p), latency:percentile(p)))
  end
  io.write(string.format("BENCH max_us %d\n", latency.max))
  io.write(string.format("BENCH mean_us %.1f\n", latency.mean))
end
