-- POST a new, valid signer each time: wrk ... -s sign.lua URL -- SIGN_PATH NUMBERS_FILE TAG THREADS
-- NUMBERS_FILE holds one PESEL a line (bench.signing.valid_pesels); thread k takes lines k, k + THREADS, ...
-- Running out of numbers would repeat signers (a cheaper path), so each wrap-around is counted as `reused`.
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local path, numbers, tag, stride, index
reused = 0

function setup(thread) common.setup(thread) end

function init(args)
  path, numbers, tag, stride = args[1], common.read_lines(args[2]), args[3], tonumber(args[4])
  index = thread_number + 1
end

function request()
  if index > #numbers then
    index = thread_number + 1
    reused = reused + 1
  end
  local number = numbers[index]
  index = index + stride
  return wrk.format("POST", path, common.form_headers, common.signer_body(number, tag))
end

function done(summary, latency, requests) common.report(summary, latency, { "reused" }) end
