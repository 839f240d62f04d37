-- Lua helpers shared by the wrk scripts of the load benchmarks (bench/server/post_run.lua,
-- bench/webhook/*.lua), the counterpart of bench/lib.sh. A script loads it by its own path:
--   local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "../lib.lua")
local M = {}

function M.read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- Per thread (from init): answers with status `expected` are counted in the thread global
-- expected_n, the others by status in the thread global table `statuses`.
function M.init_counts(expected)
  expected_status = expected
  expected_n = 0
  statuses = {}
  shown = 0
end

-- A wrk response() counting as init_counts says; the first three unexpected answers of a
-- thread are shown on stderr as "<label> <status>: <start of the body>".
function M.counting_response(label)
  return function(status, headers, body)
    if status == expected_status then
      expected_n = expected_n + 1
    else
      statuses[status] = (statuses[status] or 0) + 1
      shown = shown + 1
      if shown <= 3 then
        io.stderr:write(string.format("%s %d: %s\n", label, status, string.sub(body or "", 1, 300)))
      end
    end
  end
end

-- The sum of the thread global `name` over `threads` (the threads given to setup).
function M.sum(threads, name)
  local n = 0
  for _, thread in ipairs(threads) do n = n + thread:get(name) end
  return n
end

-- The unexpected answers of all threads: their number and "status=n,..." by status.
function M.unexpected(threads)
  local by_status, total = {}, 0
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses")) do
      by_status[code] = (by_status[code] or 0) + n
      total = total + n
    end
  end
  local parts = {}
  for code, n in pairs(by_status) do table.insert(parts, code .. "=" .. n) end
  return total, table.concat(parts, ",")
end

-- Prints the machine-readable lines parsed by the load scripts (bench/lib.sh `bench`):
-- "BENCH requests", "BENCH duration_us", then `lines` ("key value..." strings), socket
-- errors, latency percentiles and maximum, then `tail`.
function M.report(summary, latency, lines, tail)
  local function line(s) io.write("BENCH " .. s .. "\n") end
  line(string.format("requests %d", summary.requests))
  line(string.format("duration_us %d", summary.duration))
  for _, s in ipairs(lines or {}) do line(s) end
  line(string.format("errors connect=%d read=%d write=%d status=%d timeout=%d",
                     summary.errors.connect, summary.errors.read, summary.errors.write,
                     summary.errors.status, summary.errors.timeout))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    line(string.format("p%s_us %d", tostring(p), latency:percentile(p)))
  end
  line(string.format("max_us %d", latency.max))
  for _, s in ipairs(tail or {}) do line(s) end
end

return M
