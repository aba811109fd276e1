-- The whole flow, on every connection: the form, the signing, then (once the mail worker has delivered the
-- email and the SMTP sink has written its link to LINKS_DIR/<address>) the confirmation page and the button.
--   wrk ... -s flow.lua URL -- FORM_PATH SIGN_PATH NUMBERS_FILE TAG THREADS LINKS_DIR
-- A connection confirms whenever a link is waiting, and signs someone new otherwise; CSRF is off.
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local form_path, sign_path, numbers, tag, stride, links
local index
local queued = {}            -- requests to send next on this thread, in order
-- addresses whose link has not been seen yet, oldest first: waiting[head..tail] (never `#waiting`: it has holes)
local waiting, head, tail = {}, 1, 0
signed, confirms, reused = 0, 0, 0

function setup(thread) common.setup(thread) end

function init(args)
  form_path, sign_path, numbers, tag = args[1], args[2], common.read_lines(args[3]), args[4]
  stride, links = tonumber(args[5]), args[6]
  index = thread_number + 1
end

local function next_link()
  local address = waiting[head]
  if address == nil then return nil end
  local file = io.open(links .. "/" .. address, "r")
  if file == nil then return nil end
  local path = file:read("*l")
  file:close()
  waiting[head] = nil
  head = head + 1
  return path
end

function request()
  if #queued > 0 then
    return table.remove(queued, 1)
  end
  local link = next_link()
  if link ~= nil then
    confirms = confirms + 1
    queued[#queued + 1] = wrk.format("POST", link, common.form_headers, "confirm=1")
    return wrk.format("GET", link)
  end
  if index > #numbers then
    index = thread_number + 1
    reused = reused + 1
  end
  local number = numbers[index]
  index = index + stride
  signed = signed + 1
  tail = tail + 1
  waiting[tail] = common.email(number, tag)
  queued[#queued + 1] = wrk.format("POST", sign_path, common.form_headers, common.signer_body(number, tag))
  return wrk.format("GET", form_path)
end

function done(summary, latency, requests) common.report(summary, latency, { "signed", "confirms", "reused" }) end
