-- wrk script: POST /v1/chat/completions with the two-message chat body in chat.json.
-- Environment (set by bench/load/run.sh):
--   BENCH_BODY     path of the JSON body (default: chat.json in the current directory)
--   BENCH_STREAM   1 = send "stream":true instead of "stream":false
--   BENCH_PATH     request path (default /v1/chat/completions)
--   BENCH_HEADERS  extra request headers, "Name: value" separated by "|"
--   BENCH_CONNS    the -c given to wrk (needed to undo wrk's latency correction, see below)
--   BENCH_LABEL    echoed back in the JSON line
-- done() prints one line "BENCHJSON {...}": req/s and latency percentiles in microseconds.
--
-- Latency: before it prints anything or calls done(), wrk 4.x "corrects" its histogram for
-- coordinated omission (stats_correct in wrk.c): every sample longer than twice the mean interval
-- between two requests on one connection (runtime / (requests / connections)) is copied again at
-- that value minus 1, 2, 3... intervals. At 1 connection the interval is ~0.1-0.5 ms, so a single
-- 20 ms scheduling stall (the load generator shares 2 CPUs with the servers) adds ~100 synthetic
-- samples, and p90/p99 measure the machine's hiccups more than the server. done() undoes that
-- exactly (the correction is deterministic) and reports the latencies wrk actually observed,
-- p50_us/p99_us; wrk's corrected values are kept as co_p50_us/co_p99_us. The undone histogram
-- must hold exactly one sample per completed request; "raw_ok" says whether it did.

local stream = os.getenv("BENCH_STREAM") == "1"

local f = assert(io.open(os.getenv("BENCH_BODY") or "chat.json", "rb"))
local body = f:read("*a"):gsub("%s+$", "")
f:close()
if stream then
  body = body:gsub('"stream":false', '"stream":true')
end

wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/v1/chat/completions"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = stream and "text/event-stream" or "application/json"

for pair in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^|]+") do
  local name, value = string.match(pair, "^%s*([^:]+):%s*(.-)%s*$")
  if name then wrk.headers[name] = value end
end

-- Percentile as wrk computes it, over sorted {value, count} buckets.
local function percentile(buckets, total, p)
  local rank = math.floor((p / 100) * total + 0.5 + 0.5)
  local seen = 0
  for _, b in ipairs(buckets) do
    seen = seen + b[2]
    if seen >= rank then return b[1] end
  end
  return buckets[#buckets] and buckets[#buckets][1] or 0
end

-- The observed histogram: wrk's corrected one minus the copies stats_correct() added.
local function uncorrect(latency, requests, duration_us, conns)
  local buckets = {}
  for i = 1, #latency do
    local v, c = latency(i)
    buckets[#buckets + 1] = { v, c }
  end
  local per_conn = math.floor(requests / conns)
  if per_conn > 0 then
    local e = math.floor(duration_us / per_conn)
    -- stats_correct adds data[n] at n-e, n-2e, ... while > e, for every n >= 2e. Walking down,
    -- the copies at m are the observed counts at m+e, m+2e, ...: a running sum per residue mod e.
    local above = {}
    for i = #buckets, 1, -1 do
      local m, c = buckets[i][1], buckets[i][2]
      local r = m % e
      local s = above[r] or 0
      if m > e then c = c - s end
      buckets[i][2] = c
      above[r] = s + c
    end
  end
  local kept, total, sum = {}, 0, 0
  for _, b in ipairs(buckets) do
    if b[2] > 0 then
      kept[#kept + 1] = b
      total = total + b[2]
      sum = sum + b[1] * b[2]
    end
  end
  return kept, total, sum
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local conns = tonumber(os.getenv("BENCH_CONNS") or "") or 1
  local raw, n, sum = uncorrect(latency, summary.requests, summary.duration, conns)
  -- Completed requests whose latency exceeded --timeout are not in the histogram.
  local raw_ok = n == summary.requests - e.timeout
  io.write(string.format(
    'BENCHJSON {"label":"%s","requests":%d,"seconds":%.3f,"rps":%.1f,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d,' ..
    '"raw_ok":%s,"raw_samples":%d,"co_p50_us":%d,"co_p99_us":%d,"co_mean_us":%.1f,"bytes":%d,' ..
    '"non2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
    '"body_bytes":%d}\n',
    os.getenv("BENCH_LABEL") or "", summary.requests, secs, summary.requests / secs,
    raw_ok and percentile(raw, n, 50) or latency:percentile(50),
    raw_ok and percentile(raw, n, 90) or latency:percentile(90),
    raw_ok and percentile(raw, n, 99) or latency:percentile(99),
    raw_ok and sum / math.max(n, 1) or latency.mean, latency.max,
    tostring(raw_ok), n, latency:percentile(50), latency:percentile(99), latency.mean,
    summary.bytes, e.status, e.connect, e.read, e.write, e.timeout, #body))
end
