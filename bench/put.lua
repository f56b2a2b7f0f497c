-- SPDX-License-Identifier: BSD-2-Clause
-- put.lua - wrk script: PUT 4 KiB documents, cycling over 1000 names under
-- /dav/, so most requests replace a document (204) and some create one (201).
local body = string.rep("d", 4096)
local n = 0

request = function()
   n = n + 1
   return wrk.format("PUT", "/dav/doc-" .. (n % 1000) .. ".bin", nil, body)
end
