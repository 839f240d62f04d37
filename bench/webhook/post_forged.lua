-- wrk script for bench/webhook_load.sh: a flood of forgeries. Every request carries the
-- same well-formed Standard Webhooks headers (a fresh timestamp, so only the signature
-- is wrong) with a signature that does not verify; the server must answer each one 401.
-- Usage: wrk ... -s post_forged.lua URL -- BODY_FILE TIMESTAMP [EXPECTED_STATUS]
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local pieces, order = common.template(common.read_file(args[1]))
  -- 32 bytes of "forged..." base64-encoded: the right shape, the wrong MAC.
  local sig = "v1,Zm9yZ2VkLXNpZ25hdHVyZS1mb3JnZWQtc2lnbmF0dXJlIQ=="
  request_data = common.fill(pieces, order, {"msg_forged_0001", args[2], sig})
  common.bench.init_counts(tonumber(args[3] or "401"))
end

function request()
  return request_data
end

response = common.bench.counting_response("unexpected")

function done(summary, latency, requests)
  common.report(threads, summary, latency)
end
