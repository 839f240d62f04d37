-- Shared parts of the wrk scripts of bench/webhook_load.sh (loaded with dofile).
local M = {}

-- A request template: the POST with the body and three webhook headers whose values are
-- placeholders, split around them so that a request is a concatenation of fixed pieces
-- and the three values (no wrk.format per request). Returns the pieces and the order of
-- the placeholders in the request (wrk orders headers by hash).
function M.template(body)
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["webhook-id"] = "@ID@"
  wrk.headers["webhook-timestamp"] = "@TS@"
  wrk.headers["webhook-signature"] = "@SIG@"
  local req = wrk.format()
  local marks = {}
  for slot, mark in ipairs({"@ID@", "@TS@", "@SIG@"}) do
    local s = string.find(req, mark, 1, true)
    assert(s, "placeholder missing in the request template")
    table.insert(marks, {pos = s, len = #mark, slot = slot})
  end
  table.sort(marks, function(a, b) return a.pos < b.pos end)
  local pieces, order, from = {}, {}, 1
  for _, m in ipairs(marks) do
    table.insert(pieces, string.sub(req, from, m.pos - 1))
    table.insert(order, m.slot)
    from = m.pos + m.len
  end
  table.insert(pieces, string.sub(req, from))
  return pieces, order
end

-- The request for values {id, ts, sig} from a template.
function M.fill(pieces, order, values)
  return pieces[1] .. values[order[1]] .. pieces[2] .. values[order[2]] .. pieces[3] ..
         values[order[3]] .. pieces[4]
end

function M.read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- Prints the machine-readable lines parsed by webhook_load.sh.
function M.report(threads, summary, latency, extra)
  local expected, by_status = 0, {}
  local totals = {}
  for _, thread in ipairs(threads) do
    expected = expected + thread:get("expected_n")
    for code, n in pairs(thread:get("statuses")) do
      by_status[code] = (by_status[code] or 0) + n
    end
    for _, k in ipairs(extra or {}) do totals[k] = (totals[k] or 0) + thread:get(k) end
  end
  local parts = {}
  for code, n in pairs(by_status) do table.insert(parts, code .. "=" .. n) end
  io.write(string.format("BENCH requests %d\n", summary.requests))
  io.write(string.format("BENCH duration_us %d\n", summary.duration))
  io.write(string.format("BENCH expected %d\n", expected))
  io.write(string.format("BENCH unexpected %d %s\n", summary.requests - expected,
                         table.concat(parts, ",")))
  for _, k in ipairs(extra or {}) do io.write(string.format("BENCH %s %d\n", k, totals[k])) end
  io.write(string.format("BENCH errors connect=%d read=%d write=%d status=%d timeout=%d\n",
                         summary.errors.connect, summary.errors.read, summary.errors.write,
                         summary.errors.status, summary.errors.timeout))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("BENCH p%s_us %d\n", tostring(p), latency:percentile(p)))
  end
  io.write(string.format("BENCH max_us %d\n", latency.max))
end

return M
