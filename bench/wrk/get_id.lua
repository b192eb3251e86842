-- GET /api/v1/posts/{id}, the ids read from a file (one per line), in turn.
dofile("common.lua")
local ids, at = {}, 0

function init(args)
  for line in io.lines(args[1]) do
    ids[#ids + 1] = line
  end
  at = (thread_no or 1) * 97
end

function request()
  at = at % #ids + 1
  return wrk.format("GET", "/api/v1/posts/" .. ids[at])
end
