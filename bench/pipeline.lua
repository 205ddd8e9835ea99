-- SPDX-License-Identifier: MIT
-- wrk script: 16 requests per write, as the well-known "plaintext" benchmarks send them,
-- so that the client spends less per request and the servers' costs show.
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, "/") end
  req = table.concat(r)
end
request = function() return req end
