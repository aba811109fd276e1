-- Shared by the wrk scripts of bench.flow: thread numbering, signers read from a file, the JSON report.
local common = {}
local threads = {}

-- wrk calls setup() once per thread before the run: each thread gets its number and a place in the report.
function common.setup(thread)
  thread:set("thread_number", #threads)
  table.insert(threads, thread)
end

function common.read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    lines[#lines + 1] = line
  end
  return lines
end

-- application/x-www-form-urlencoded, for the few characters our values hold
function common.encode(value)
  return (string.gsub(value, "[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

common.form_headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }

-- A signer's form body, the fields of CONTRACT.md's POST /i/<slug>/sign (Part B, Poland); CSRF is off.
function common.signer_body(number, tag)
  return "country=PL&first_names=Anna&family_names=" .. common.encode("Nowak " .. number)
    .. "&id_type=personal_number&id_number=" .. number
    .. "&email=" .. common.encode(common.email(number, tag))
    .. "&privacy_consent=y&declaration=y"
end

function common.email(number, tag)
  return "s" .. number .. "-" .. tag .. "@example.org"
end

-- One JSON line on stdout for bench.flow to read; `counters` names per-thread globals to add up.
function common.report(summary, latency, counters)
  local totals = {}
  for _, name in ipairs(counters or {}) do
    totals[name] = 0
    for _, thread in ipairs(threads) do
      totals[name] = totals[name] + (thread:get(name) or 0)
    end
  end
  local parts = {
    string.format('"requests": %d', summary.requests),
    string.format('"duration_us": %d', summary.duration),
    string.format('"connect_errors": %d', summary.errors.connect),
    string.format('"read_errors": %d', summary.errors.read),
    string.format('"write_errors": %d', summary.errors.write),
    string.format('"status_errors": %d', summary.errors.status),
    string.format('"timeouts": %d', summary.errors.timeout),
    string.format('"p50_us": %d', latency:percentile(50)),
    string.format('"p90_us": %d', latency:percentile(90)),
    string.format('"p99_us": %d', latency:percentile(99)),
    string.format('"max_us": %d', latency.max),
  }
  for name, total in pairs(totals) do
    parts[#parts + 1] = string.format('"%s": %d', name, total)
  end
  io.write("BENCH-JSON {" .. table.concat(parts, ", ") .. "}\n")
end

return common
