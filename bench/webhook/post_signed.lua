-- wrk script for bench/webhook_load.sh: replays pre-signed Standard Webhooks deliveries
-- (bench/webhook/sign.mjs) round robin, each id once: thread k of T sends lines
-- k, k+T, k+2T, ... When a thread has used all its lines it starts again from its
-- first one and counts those sends as `repeats` (the server must answer them 409).
-- Usage: wrk -t T ... -s post_signed.lua URL -- SIGNED_FILE BODY_FILE EXPECTED_STATUS T
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  pieces, order = common.template(common.read_file(args[2]))
  common.bench.init_counts(tonumber(args[3] or "202"))
  local nthreads = tonumber(args[4] or "1")
  ids, tss, sigs = {}, {}, {}
  local i, n = 0, 0
  for line in io.lines(args[1]) do
    if i % nthreads == tid then
      local id, ts, sig = string.match(line, "^(%S+) (%S+) (%S+)$")
      n = n + 1
      ids[n], tss[n], sigs[n] = id, ts, sig
    end
    i = i + 1
  end
  count = n
  pos = 0
  repeats = 0
end

function request()
  pos = pos + 1
  if pos > count then
    pos = 1
  end
  if sent_all then repeats = repeats + 1 end
  if pos == count then sent_all = true end
  return common.fill(pieces, order, {ids[pos], tss[pos], sigs[pos]})
end

response = common.bench.counting_response("unexpected")

function done(summary, latency, requests)
  common.report(threads, summary, latency, {"repeats", "count"})
end
