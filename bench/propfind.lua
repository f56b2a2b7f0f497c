-- SPDX-License-Identifier: BSD-2-Clause
-- propfind.lua - wrk script: PROPFIND with Depth: 1 and an allprop body on the
-- URL's path (a folder of 1,000 files under the WebDAV area), keep-alive. Only
-- 207 Multi-Status counts; every other status is counted, by status, and
-- reported at the end (wrk's own "Non-2xx or 3xx" would let a 200 pass).
-- done() prints one line that bench/run reads:
--   dav.lua: ok N, other M (STATUS xCOUNT, ...)

-- the shared counting (tally.lua, beside this script)
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "tally.lua")
tally({[207] = true}, "dav.lua", "ok")
setup = add_thread

local body = '<?xml version="1.0" encoding="utf-8"?>\n' ..
             '<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>\n'
local req

init = function(args)
   req = wrk.format("PROPFIND", wrk.path,
                    {["Depth"] = "1", ["Content-Type"] = "application/xml; charset=utf-8"}, body)
end

request = function()
   return req
end
