-- Shared parts of the wrk scripts of bench/webhook_load.sh (loaded with dofile); what all
-- the load benchmarks share is in bench/lib.lua, re-exported here as common.bench.
local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "../lib.lua")
local M = {bench = bench, read_file = bench.read_file}

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

-- Prints the machine-readable lines parsed by webhook_load.sh: the answers with the
-- expected status, the others by status, then the sums of the thread globals in `extra`.
function M.report(threads, summary, latency, extra)
  local expected = bench.sum(threads, "expected_n")
  local _, by_status = bench.unexpected(threads)
  local lines = {string.format("expected %d", expected),
                 string.format("unexpected %d %s", summary.requests - expected, by_status)}
  for _, k in ipairs(extra or {}) do
    table.insert(lines, string.format("%s %d", k, bench.sum(threads, k)))
  end
  bench.report(summary, latency, lines)
end

return M
