-- SPDX-License-Identifier: BSD-2-Clause
-- mixed.lua - wrk script: GET the paths listed in PATHSFILE (one a line), in
-- order and round again, keep-alive. bench/run writes the file: a sequence of
-- a few thousand paths under /mix/, drawn with a fixed seed from a fixed mix of
-- file sizes (see bench/README.md, workload 12).
--
-- Usage: wrk -s mixed.lua URL -- PATHSFILE
--
-- One position in the sequence per thread, taken by each request in turn: the
-- connections in flight ask for consecutive entries, so they do not all ask
-- for the same file at once. Each thread starts at its own place. The
-- requests are formatted once, in init.

local next_id = 0

setup = function(thread)      -- in wrk's main Lua state, once per thread
   thread:set("id", next_id)
   next_id = next_id + 1
end

local reqs, n, i = {}, 0, 0

init = function(args)          -- in the thread's own Lua state
   local f = assert(io.open(assert(args[1], "mixed.lua: give the paths file after --"), "r"))
   for path in f:lines() do
      if path ~= "" then
         n = n + 1
         reqs[n] = wrk.format(nil, path)
      end
   end
   f:close()
   assert(n > 0, "mixed.lua: no paths in " .. args[1])
   i = ((id or 0) * 997) % n
end

request = function()
   i = i % n + 1
   return reqs[i]
end
