-- alerts.lua - the wrk script of bench/ingest: one alert per request, rotating
-- over N distinct alerts, every request built before the clock starts.
--
--   wrk -t2 -c64 -d15s --latency -s alerts.lua URL -- MODE N THREADS [ROUTING_KEY]
--
-- THREADS must equal wrk's -t (a script cannot learn it before init()).
--
-- MODE am  POST /api/v2/alerts: a JSON array holding one Alertmanager
--          postableAlert (labels, annotations, startsAt, endsAt 5 min ahead,
--          generatorURL) - what Prometheus sends, one alert per request.
-- MODE pd  POST /v2/enqueue: a PagerDuty Events API v2 trigger with
--          dedup_key bench-NNNNN and ROUTING_KEY.
--
-- Alert i (0 <= i < N) always has the same labels / dedup_key, so N is the
-- number of distinct alerts a server can end up storing. Thread t of T sends
-- i = t, t+T, t+2T, ... in a loop, so together the threads rotate over all N.
--
-- Each request carries "X-Request-Id: bench-i". opsbell echoes the header,
-- which tells response() which alert a 2xx acknowledged; Alertmanager does
-- not echo it (and ignores it), so there only the status codes are counted.
--
-- done() writes a JSON summary to the file named by $BENCH_WRK_JSON: wrk's
-- own counters and latency percentiles (microseconds), the status codes seen,
-- and the sorted list of alert indices that got at least one 2xx.

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("tid", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

-- ---- per-thread state (each wrk thread has its own Lua state) ----
local requests = {}
local count = 0
local pos = 0
statuses = {}  -- status code -> count (global: read by done() through thread:get)
acked = {}     -- alert index -> true once it got a 2xx

local function iso8601(t)
   return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

local function am_body(i, now)
   -- Ten alert names, a distinct instance per alert, two severities; no
   -- characters that need JSON escaping.
   return string.format(
      '[{"labels":{"alertname":"BenchAlert%d","bench":"ingest","instance":"host-%05d:9100",'
         .. '"job":"node","severity":"%s"},'
         .. '"annotations":{"summary":"Bench alert %d is firing","runbook":"https://runbooks.example.invalid/bench"},'
         .. '"startsAt":"%s","endsAt":"%s",'
         .. '"generatorURL":"http://prometheus.example.invalid:9090/graph?g0.expr=up%%3D%%3D0"}]',
      i % 10, i, (i % 2 == 0) and "critical" or "warning", i, iso8601(now - 60), iso8601(now + 300))
end

local function pd_body(i, key)
   return string.format(
      '{"routing_key":"%s","event_action":"trigger","dedup_key":"bench-%05d",'
         .. '"payload":{"summary":"Bench event %d","source":"host-%05d","severity":"%s",'
         .. '"component":"bench","group":"node","class":"load",'
         .. '"custom_details":{"instance":"host-%05d:9100","job":"node"}}}',
      key, i, i, i, (i % 2 == 0) and "critical" or "warning", i)
end

function init(args)
   local mode = args[1] or "am"
   local n = tonumber(args[2] or "5000")
   local nthreads = tonumber(args[3] or "1")
   local key = args[4] or ""
   local tid = tonumber(tid or 0)
   local now = os.time()
   local path, headers
   if mode == "am" then
      path = "/api/v2/alerts"
   elseif mode == "pd" then
      path = "/v2/enqueue"
   else
      error("alerts.lua: MODE must be am or pd, not " .. tostring(mode))
   end
   for i = tid, n - 1, nthreads do
      local body = (mode == "am") and am_body(i, now) or pd_body(i, key)
      headers = {
         ["Content-Type"] = "application/json",
         ["X-Request-Id"] = string.format("bench-%05d", i),
      }
      count = count + 1
      requests[count] = wrk.format("POST", path, headers, body)
   end
end

function request()
   pos = pos % count + 1
   return requests[pos]
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status >= 200 and status < 300 then
      local id = headers["X-Request-Id"] or headers["x-request-id"]
      if id ~= nil then
         local i = tonumber(string.match(id, "^bench%-(%d+)$"))
         if i ~= nil then
            acked[i] = true
         end
      end
   end
end

function done(summary, latency, requests_)
   local out = {}
   local function add(s) out[#out + 1] = s end
   local codes, indices, seen = {}, {}, {}
   for _, thread in ipairs(threads) do
      for code, n in pairs(thread:get("statuses") or {}) do
         codes[code] = (codes[code] or 0) + n
      end
      for i, _ in pairs(thread:get("acked") or {}) do
         if not seen[i] then
            seen[i] = true
            indices[#indices + 1] = i
         end
      end
   end
   table.sort(indices)
   local e = summary.errors
   add(string.format('{"duration_us":%d,"requests":%d,"bytes":%d,', summary.duration,
                     summary.requests, summary.bytes))
   add(string.format('"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},',
                     e.connect, e.read, e.write, e.status, e.timeout))
   add(string.format('"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,'
                        .. '"p50":%d,"p90":%d,"p99":%d,"p999":%d},',
                     latency.min, latency.mean, latency.stdev, latency.max,
                     latency:percentile(50), latency:percentile(90), latency:percentile(99),
                     latency:percentile(99.9)))
   local parts = {}
   for code, n in pairs(codes) do
      parts[#parts + 1] = string.format('"%d":%d', code, n)
   end
   add('"statuses":{' .. table.concat(parts, ",") .. '},')
   add('"acked":[' .. table.concat(indices, ",") .. ']}')
   local path = os.getenv("BENCH_WRK_JSON")
   if path ~= nil and path ~= "" then
      local f = assert(io.open(path, "w"))
      f:write(table.concat(out), "\n")
      f:close()
   end
end
