-- SPDX-License-Identifier: BSD-2-Clause
-- queue.lua - wrk script: POST a 1 KiB body to a job queue, keep-alive, and
-- count the answers: only 202 Accepted is an accepted job. Every other status
-- is counted as an error, by status, and reported at the end, since wrk's own
-- "Non-2xx or 3xx" count would let a 200 or a 3xx pass.
--
-- Usage: wrk -s queue.lua URL [-- close]
-- The URL's path is the queue's prefix (/q/); each request names its own job,
-- PREFIX<thread>-<n>. With "close", every request says Connection: close, so
-- each job comes on a new connection. done() prints one line that bench/run
-- reads:
--   queue.lua: 202 N, other M (STATUS xCOUNT, ...)

local threads = {}
local next_id = 0

setup = function(thread)      -- in wrk's main Lua state, once per thread
   thread:set("id", next_id)
   next_id = next_id + 1
   threads[#threads + 1] = thread
end

local body = string.rep("q", 1024)
local prefix, n, headers = nil, 0, {["Content-Type"] = "application/octet-stream"}
accepted, other, statuses = 0, 0, ""   -- globals, read by done() through thread:get
local by_status = {}

init = function(args)          -- in the thread's own Lua state
   prefix = wrk.path .. (id or 0) .. "-"
   if args[1] == "close" then headers["Connection"] = "close" end
end

request = function()
   n = n + 1
   return wrk.format("POST", prefix .. n, headers, body)
end

response = function(status, headers, resp_body)
   if status == 202 then
      accepted = accepted + 1
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
   local a, o, kinds = 0, 0, {}
   for _, t in ipairs(threads) do
      a = a + t:get("accepted")
      o = o + t:get("other")
      local s = t:get("statuses")
      if s ~= "" then kinds[#kinds + 1] = s end
   end
   io.write(string.format("queue.lua: 202 %d, other %d (%s)\n", a, o, table.concat(kinds, "; ")))
end
