-- Chained refresh: every request presents the refresh token that an earlier response
-- returned, and each token is presented once.
--   wrk -t T -c C -s refresh_chain.lua URL -- SEND_KEY REPLY_KEY TOKEN_FILE T
-- TOKEN_FILE holds C refresh tokens, one a line; thread i takes lines i, i+T, i+2T...
-- wrk gives each thread one Lua state but no handle on its connections, so a thread keeps
-- a pool of live tokens, one per connection: a connection has one request in flight, and
-- its response puts the new token back before it sends again. A broken chain leaves the
-- pool short, and the requests without a token are refused (wrk counts them as non-2xx).

local thread_count = 0

function setup(thread)
   thread:set("id", thread_count)
   thread_count = thread_count + 1
end

function init(args)
   send_key, reply_key = args[1], args[2]
   local threads = tonumber(args[4])
   pool = {}
   local line_number = 0
   for line in io.lines(args[3]) do
      if line_number % threads == id then
         pool[#pool + 1] = line
      end
      line_number = line_number + 1
   end
   pattern = '"' .. reply_key .. '"%s*:%s*"([^"]+)"'
   headers = { ["Content-Type"] = "application/json" }
   -- wrk calls the first thread's request() once before any connection, to check what it
   -- returns: that call must not take a token.
   checked = id ~= 0
end

function request()
   if not checked then
      checked = true
      return wrk.format("POST", nil, headers, '{"' .. send_key .. '":"check"}')
   end
   local token = table.remove(pool) or "none-left"
   return wrk.format("POST", nil, headers, '{"' .. send_key .. '":"' .. token .. '"}')
end

function response(status, _, body)
   local token = body:match(pattern)
   if token then
      pool[#pool + 1] = token
   end
end
