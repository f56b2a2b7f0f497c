-- SPDX-License-Identifier: BSD-2-Clause
-- propfind.lua - wrk script: PROPFIND with Depth: 1 and an allprop body on the
-- URL's path (a folder of 1,000 files under the WebDAV area), keep-alive. Only
-- 207 Multi-Status counts; every other status is counted, by status, and
-- reported at the end (wrk's own "Non-2xx or 3xx" would let a 200 pass).
-- done() prints one line that bench/run reads:
--   dav.lua: ok N, other M (STATUS xCOUNT, ...)

local threads = {}

setup = function(thread)
   threads[#threads + 1] = thread
end

local body = '<?xml version="1.0" encoding="utf-8"?>\n' ..
             '<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>\n'
local req
ok, other, statuses = 0, 0, ""
local by_status = {}

init = function(args)
   req = wrk.format("PROPFIND", wrk.path,
                    {["Depth"] = "1", ["Content-Type"] = "application/xml; charset=utf-8"}, body)
end

request = function()
   return req
end

response = function(status, headers, resp_body)
   if status == 207 then
      ok = ok + 1
   else
      other = other + 1
      by_status[status] = (by_status[status] or 0) + 1
      local parts = {}
      for s, c in pairs(by_status) do parts[#parts + 1] = s .. " x" .. c end
      table.sort(parts)
      statuses = table.concat(parts, ", ")
   end
end

done = function(summary, latency, requests)
   local a, o, kinds = 0, 0, {}
   for _, t in ipairs(threads) do
      a = a + t:get("ok")
      o = o + t:get("other")
      local s = t:get("statuses")
      if s ~= "" then kinds[#kinds + 1] = s end
   end
   io.write(string.format("dav.lua: ok %d, other %d (%s)\n", a, o, table.concat(kinds, "; ")))
end
