-- wrk script for the soak run: records every response that is not 2xx with its wall-clock
-- second (os.time(), so soak.sh can tell responses during a reload from the rest) and, when
-- wrk stops (its -d or SIGINT), writes the totals as one JSON object to $WRK_OUT.
-- Socket errors (connect/read/write/timeout) are only known to wrk as totals.

local threads = {}
local MAX_KEPT = 5000

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = {}
  nbad = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    nbad = nbad + 1
    if nbad <= MAX_KEPT then
      bad[nbad] = os.time() .. ":" .. status
    end
  end
end

function done(summary, latency, requests)
  local path = os.getenv("WRK_OUT")
  local f = path and io.open(path, "w") or io.stdout
  local e = summary.errors
  f:write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"stdev":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d},"non2xx_total":',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
  local total = 0
  for _, t in ipairs(threads) do
    total = total + t:get("nbad")
  end
  f:write(total .. ',"non2xx":[')
  local first = true
  for _, t in ipairs(threads) do
    local n = math.min(t:get("nbad"), MAX_KEPT)
    local b = t:get("bad")
    for i = 1, n do
      if not first then f:write(",") end
      first = false
      f:write('"' .. b[i] .. '"')
    end
  end
  f:write("]}\n")
  if f ~= io.stdout then f:close() end
end
