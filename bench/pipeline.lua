-- SPDX-License-Identifier: BSD-2-Clause
-- pipeline.lua - wrk script: send DEPTH requests for the URL's path in one
-- write and count each response. Usage: wrk -s pipeline.lua URL -- [DEPTH]
-- (default 16). wrk counts every response, so Requests/sec is responses/s.

local req

init = function(args)
   local depth = tonumber(args[1]) or 16
   local r = {}
   for i = 1, depth do
      r[i] = wrk.format(nil, nil)   -- GET wrk.path with wrk.headers
   end
   req = table.concat(r)
end

request = function()
   return req
end
