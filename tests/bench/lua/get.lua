-- GET scenarios: wrk's own request (headers come from -H); no response hook, so wrk does not
-- copy bodies into Lua. Failed statuses are still counted in `non_2xx_3xx`.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
