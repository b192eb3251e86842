-- GET /api/v1/users/me with one credential header: args are the header's
-- name and a file holding its value (`Authorization` and `Bearer <token>`,
-- or `X-API-Key` and the key).
dofile("common.lua")
local name, value

function init(args)
  name = args[1]
  value = slurp(args[2])
end

function request()
  return wrk.format("GET", "/api/v1/users/me", { [name] = value })
end
