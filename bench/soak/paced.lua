-- wrk wrapper for bench/soak.sh: runs another wrk script of the load benchmarks unchanged
-- (its setup/init/request/response/done) and adds a pause of SOAK_DELAY_MS milliseconds
-- before each request of a connection, so that a soak holds a moderate rate for minutes
-- instead of saturating the machine.
-- Usage: SOAK_SCRIPT=path/to/script.lua SOAK_DELAY_MS=20 wrk ... -s paced.lua URL -- ARGS...
dofile(assert(os.getenv("SOAK_SCRIPT"), "SOAK_SCRIPT is not set"))
local pause = tonumber(os.getenv("SOAK_DELAY_MS") or "0")

function delay()
  return pause
end
