-- SPDX-License-Identifier: BSD-2-Clause
-- metered.lua - wrk script: GET the URL on keep-alive connections as a paying
-- client of htd's metered paths (ChargeTo: ACCOUNT, Authorization: Bearer KEY)
-- and count the answers: only 200 is a served request. Every other status is
-- counted as an error, by status, and reported at the end, since wrk's own
-- "Non-2xx or 3xx" count would let a 3xx pass. The 200s that carry a Charge
-- header (htd charged them) are counted apart.
--
-- Usage: wrk -s metered.lua URL -- ACCOUNT KEY [TAIL_ACCOUNT TAIL_KEY AFTER_MS]
-- The same headers go to the unpriced path too (the unmetered row), where
-- htd ignores them.
--
-- The tail: wrk stops by closing its connections, and a request still in
-- flight then has been charged (htd settles before the response's last byte)
-- but is never counted. So that ACCOUNT's debits can be checked against its
-- 200s exactly, the requests sent AFTER_MS after init charge TAIL_ACCOUNT
-- instead (same path, same price, same work for htd); ACCOUNT's requests in
-- flight at the switch are answered long before wrk stops (unless htd stalls
-- for longer than the tail: A below tells). A charged 200 is
-- told apart by its Charge header's balance: TAIL_ACCOUNT's is credited with
-- 10^12 or more, ACCOUNT's with less than 10^11.
--
-- done() prints one line that bench/run reads:
--   metered.lua: 200 N, other M (STATUS xCOUNT, ...), charged C, tail T, sent S, to account A
-- (N: every 200; C: 200s charged to ACCOUNT; T: 200s charged to TAIL_ACCOUNT;
-- S: requests sent; A: requests sent to be charged to ACCOUNT)

local threads = {}

setup = function(thread)      -- in wrk's main Lua state, once per thread
   threads[#threads + 1] = thread
end

local ffi = require("ffi")
ffi.cdef [[
   typedef struct { long tv_sec; long tv_nsec; } metered_timespec;
   int clock_gettime(int clk, metered_timespec *ts);
]]
local ts = ffi.new("metered_timespec")
local function now_ms()        -- CLOCK_MONOTONIC (1), a vDSO call
   ffi.C.clock_gettime(1, ts)
   return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local req, tail_req, switch_at
ok, other, statuses, charged, tail, sent, main = 0, 0, "", 0, 0, 0, 0   -- globals, read by done() through thread:get
local by_status = {}

init = function(args)          -- in the thread's own Lua state
   wrk.headers["ChargeTo"] = args[1] or "acme"
   wrk.headers["Authorization"] = "Bearer " .. (args[2] or "")
   req = wrk.format("GET", wrk.path)
   if args[5] then
      wrk.headers["ChargeTo"] = args[3]
      wrk.headers["Authorization"] = "Bearer " .. args[4]
      tail_req = wrk.format("GET", wrk.path)
      switch_at = now_ms() + tonumber(args[5])
   end
end

request = function()
   sent = sent + 1
   if switch_at and now_ms() >= switch_at then
      return tail_req
   end
   main = main + 1
   return req
end

response = function(status, headers, body)
   if status == 200 then
      ok = ok + 1
      local c = headers["Charge"]
      if c then
         local b = c:match("balance=(%-?%d+)")
         if b and #b >= 12 then tail = tail + 1 else charged = charged + 1 end
      end
   else
      other = other + 1
      by_status[status] = (by_status[status] or 0) + 1
      local parts = {}
      for s, c in pairs(by_status) do
         parts[#parts + 1] = s .. " x" .. c
      end
      table.sort(parts)
      statuses = table.concat(parts, ", ")
   end
end

done = function(summary, latency, requests)
   local a, o, c, tl, n, m, kinds = 0, 0, 0, 0, 0, 0, {}
   for _, t in ipairs(threads) do
      a = a + t:get("ok")
      o = o + t:get("other")
      c = c + t:get("charged")
      tl = tl + t:get("tail")
      n = n + t:get("sent")
      m = m + t:get("main")
      local s = t:get("statuses")
      if s ~= "" then kinds[#kinds + 1] = s end
   end
   -- wrk calls request() once in thread 0's state, right after init, to check
   -- the script's request: nothing is sent, so it is taken off both counts
   n, m = n - 1, m - 1
   io.write(string.format("metered.lua: 200 %d, other %d (%s), charged %d, tail %d, sent %d, to account %d\n",
                          a, o, table.concat(kinds, "; "), c, tl, n, m))
end
