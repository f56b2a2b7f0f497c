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

-- the shared counting (tally.lua, beside this script)
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "tally.lua")
tally({[202] = true}, "queue.lua", "202")
local next_id = 0

setup = function(thread)      -- in wrk's main Lua state, once per thread
   thread:set("id", next_id)
   next_id = next_id + 1
   add_thread(thread)
end

local body = string.rep("q", 1024)
local prefix, n, headers = nil, 0, {["Content-Type"] = "application/octet-stream"}

init = function(args)          -- in the thread's own Lua state
   prefix = wrk.path .. (id or 0) .. "-"
   if args[1] == "close" then headers["Connection"] = "close" end
end

request = function()
   n = n + 1
   return wrk.format("POST", prefix .. n, headers, body)
end
