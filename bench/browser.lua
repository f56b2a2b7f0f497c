-- SPDX-License-Identifier: BSD-2-Clause
-- browser.lua - wrk script: GET the URL's path with the request head a desktop
-- Chrome 131 sends over HTTP/1.1 for an image on a page of the same site,
-- where it holds a few cookies: 14 header fields, about 700 bytes in all with
-- a 5-digit port (bench/run prints the exact size). Built once in init and returned from
-- request(), as pipeline.lua does.
--
-- Usage: wrk -s browser.lua URL [-- DUMPFILE]
-- With DUMPFILE, init also writes the request's exact bytes there, so that
-- bench/run can check each server's answer to them and report their size.
--
-- The head is put together here rather than with wrk.format, which writes the
-- fields in the order of a Lua hash table; a browser's order is kept instead.
-- Host is wrk's own (127.0.0.1:PORT), and Referer names the same origin.

local req

init = function(args)
   local host = wrk.headers["Host"]
   local fields = {
      {"Host", host},
      {"Connection", "keep-alive"},
      {"sec-ch-ua-platform", '"Windows"'},
      {"User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 " ..
                     "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
      {"sec-ch-ua", '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"'},
      {"sec-ch-ua-mobile", "?0"},
      {"Accept", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"},
      {"Sec-Fetch-Site", "same-origin"},
      {"Sec-Fetch-Mode", "no-cors"},
      {"Sec-Fetch-Dest", "image"},
      {"Referer", "http://" .. host .. "/index.html"},
      {"Accept-Encoding", "gzip, deflate, br, zstd"},
      {"Accept-Language", "en-US,en;q=0.9,de;q=0.8"},
      {"Cookie", "sessionid=9f2c4e7a1b3d5f6e8a0c2b4d6f8e1a3c; csrftoken=Yq3LbVnT8kRz2WxJ5mHd; " ..
                 "theme=dark"},
   }

   local s = {string.format("GET %s HTTP/1.1", wrk.path)}
   for _, f in ipairs(fields) do
      s[#s + 1] = f[1] .. ": " .. f[2]
   end
   req = table.concat(s, "\r\n") .. "\r\n\r\n"
   if args[1] then
      local out = assert(io.open(args[1], "wb"))
      out:write(req)
      out:close()
   end
end

request = function()
   return req
end
