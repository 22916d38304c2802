-- POST storms: registrations spread over events, or bookings over slots. Every request has a
-- unique email, and every response status is counted.
--   BENCH_LUA_DIR   this directory
--   BENCH_PATHS     comma-separated target paths (e.g. /api/v1/events/3/registrations)
--   BENCH_PICK      "cycle" (spread evenly) or "random" (collide, like people racing for slots)
--   BENCH_TAG       makes the emails unique to this run
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local paths = {}
for path in string.gmatch(os.getenv("BENCH_PATHS") or "", "[^,]+") do
   table.insert(paths, path)
end
local pick = os.getenv("BENCH_PICK") or "cycle"
local tag = os.getenv("BENCH_TAG") or "run"
local headers = { ["Content-Type"] = "application/json" }
local sent = 0
statuses = {}

function init(args)
   math.randomseed(tid * 7919 + os.time())
end

function request()
   sent = sent + 1
   local index
   if pick == "random" then
      index = math.random(#paths)
   else
      index = (sent * 2 + tid) % #paths + 1
   end
   local who = string.format("%s-%d-%d", tag, tid, sent)
   local body = string.format(
      '{"name":"Bench %s","email":"%s@bench.example","language":"nl","company":"Bench bv"}', who, who)
   return wrk.format("POST", paths[index], headers, body)
end

function response(status, headers, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
end
