-- RFC 7662 introspection of one access token, every request the same: a POST of the form
-- body token=<token>; the client's HTTP Basic credentials come with wrk's -H.
--   wrk -t T -c C -H "Authorization: Basic ..." -s introspect.lua URL -- TOKEN
-- wrk builds each thread's request once, after init: the body set here is in all of them.
-- A JWT needs no form escaping (base64url segments and dots).

function init(args)
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   wrk.body = "token=" .. args[1]
end
