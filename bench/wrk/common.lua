-- Loaded by every scenario (dofile; bench/perf runs wrk from this folder).
-- At the end, one line for bench/perf to read:
--   RESULT <requests/s> <p50 ms> <p99 ms> <non-2xx> <socket errors>

function slurp(path)
  local file = assert(io.open(path, "r"))
  local text = file:read("*a")
  file:close()
  return (text:gsub("%s+$", ""))
end

-- Each thread gets a number, so generated names never collide.
local count = 0
function setup(thread)
  count = count + 1
  thread:set("thread_no", count)
end

function done(summary, latency, requests)
  local errors = summary.errors
  local seconds = summary.duration / 1e6
  print(string.format("RESULT %.1f %.2f %.2f %d %d",
    summary.requests / seconds,
    latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    errors.status,
    errors.connect + errors.read + errors.write + errors.timeout))
end
