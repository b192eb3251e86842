-- GET /api/v1/posts?limit=20, from the first page or from a cursor (a file
-- holding a next_cursor value, when given).
dofile("common.lua")
local path = "/api/v1/posts?limit=20"

function init(args)
  if args[1] then
    path = path .. "&cursor=" .. slurp(args[1])
  end
end

function request()
  return wrk.format("GET", path)
end
