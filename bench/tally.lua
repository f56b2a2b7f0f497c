-- SPDX-License-Identifier: BSD-2-Clause
-- tally.lua - what move.lua, propfind.lua and queue.lua share: their
-- response() counts the statuses that mean done, and every other status by
-- status (wrk's own "Non-2xx or 3xx" would let a 200 or a 3xx pass), and
-- their done() sums each thread's counts into the one line bench/run reads:
--   LABEL: WORD N, other M (STATUS xCOUNT, ...)
-- A script loads it with dofile (wrk runs it in each thread's Lua state and
-- in its main one), calls tally(...) at its top level, and add_thread(thread)
-- from its setup().

local threads = {}
ok, other, statuses = 0, 0, ""   -- globals: done() reads each thread's with thread:get
local by_status = {}

function add_thread(thread)
   threads[#threads + 1] = thread
end

-- good: the statuses that count as done ({[201] = true, ...}); label and
-- word: how the line names the script and its count.
function tally(good, label, word)
   response = function(status, headers, resp_body)
      if good[status] then
         ok = ok + 1
         return
      end
      other = other + 1
      by_status[status] = (by_status[status] or 0) + 1
      local parts = {}
      for s, c in pairs(by_status) do parts[#parts + 1] = s .. " x" .. c end
      table.sort(parts)
      statuses = table.concat(parts, ", ")
   end

   done = function(summary, latency, requests)
      local a, o, kinds = 0, 0, {}
      for _, t in ipairs(threads) do
         a = a + t:get("ok")
         o = o + t:get("other")
         local s = t:get("statuses")
         if s ~= "" then kinds[#kinds + 1] = s end
      end
      io.write(string.format("%s: %s %d, other %d (%s)\n", label, word, a, o,
                             table.concat(kinds, "; ")))
   end
end
