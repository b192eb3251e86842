-- POST /api/v1/posts as one user (a token file), every slug new.
dofile("common.lua")
local headers, run, n = {}, "run", 0
local body_text = string.rep("A sentence of a benchmark post's body. ", 12)

function init(args)
  headers["Authorization"] = "Bearer " .. slurp(args[1])
  headers["Content-Type"] = "application/json"
  run = args[2] or run
end

function request()
  n = n + 1
  local slug = string.format("bench-%s-%d-%d", run, thread_no or 0, n)
  local body = string.format('{"title":"Bench %s","slug":"%s","body":"%s","published":true}',
    slug, slug, body_text)
  return wrk.format("POST", "/api/v1/posts", headers, body)
end
