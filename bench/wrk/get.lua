-- GET the same page over and over (the sign form); only the report is ours.
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

function setup(thread) common.setup(thread) end

function done(summary, latency, requests) common.report(summary, latency) end
