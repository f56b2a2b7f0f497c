-- SPDX-License-Identifier: BSD-2-Clause
-- move.lua - wrk script: MOVE of small documents back and forth, keep-alive.
-- The URL's path is a folder holding SLOTS folders s0000, s0001, ..., each
-- with one document "a" (bench/run makes them, and moves every one back to
-- "a" through the server before each run). Request n moves slot n % SLOTS:
-- a -> b on its even passes, b -> a on its odd ones. With far fewer
-- connections than slots, a slot's previous MOVE has been answered long
-- before its next is sent, so no two requests collide (bench/run: 10,000). Only 201 Created and
-- 204 No Content count; every other status is counted, by status, and
-- reported at the end. wrk calls request() once before any connection, to
-- check the request (script_verify_request): that first call takes nothing
-- from the sequence, or slot 0 would miss its first MOVE and answer its
-- second with 404. done() prints one line that bench/run reads:
--   dav.lua: ok N, other M (STATUS xCOUNT, ...)
--
-- Usage: wrk -s move.lua URL -- SLOTS

-- the shared counting (tally.lua, beside this script)
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "tally.lua")
tally({[201] = true, [204] = true}, "dav.lua", "ok")
setup = add_thread

local reqs, n, verified = {}, 0, false

init = function(args)
   local slots = tonumber(args[1]) or 10000
   local origin = "http://" .. wrk.headers["Host"]
   -- every request formatted once: slot i forward at i, back at slots + i
   for pass = 0, 1 do
      for i = 0, slots - 1 do
         local dir = string.format("%ss%04d/", wrk.path, i)
         local from, to = dir .. "a", dir .. "b"
         if pass == 1 then from, to = to, from end
         reqs[#reqs + 1] = wrk.format("MOVE", from, {["Destination"] = origin .. to})
      end
   end
end

request = function()
   if not verified then
      verified = true   -- wrk's own check, before the connections: not sent
      return reqs[1]
   end
   n = n + 1
   return reqs[(n - 1) % #reqs + 1]
end
