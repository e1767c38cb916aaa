"""Serve a floor or peer app the way the rendered service serves itself: uvicorn with
$WORKERS processes on 127.0.0.1:$PORT. A WSGI floor runs inside the rendered service's own
WSGI server, $BENCH_WSGI_SERVER (its ``uvicorn_server.WholeRequests``); a WSGI peer, which
has none, inside a2wsgi's WSGIMiddleware; both with $THREADS threads (the rendered
service's own thread count, passed in by compare.py).

With BENCH_SERVER=gunicorn, a WSGI app is served as its own documentation deploys it
instead (the Flask and Django deployment guides): gunicorn with $WORKERS sync workers,
the app as it is, no a2wsgi.

    python serve.py MODULE          # the factory MODULE:create, called in each worker
    python serve.py MODULE setup    # MODULE.setup(): tables and the one user, once, first
"""

import importlib
import os
import sys

GUNICORN = os.environ.get("BENCH_SERVER") == "gunicorn"


def wsgi(app):
    if GUNICORN:
        return app  # gunicorn speaks WSGI itself
    if os.environ.get("BENCH_WSGI_SERVER"):
        # The floor: the rendered service's own WSGI server (module:class), in its venv,
        # with as many threads as the service gives it.
        module, _, name = os.environ["BENCH_WSGI_SERVER"].partition(":")
        return getattr(importlib.import_module(module), name)(app, int(os.environ["THREADS"]))
    from a2wsgi import WSGIMiddleware

    return WSGIMiddleware(app, workers=int(os.environ["THREADS"]))


if __name__ == "__main__":
    if sys.argv[2:] == ["setup"]:
        importlib.import_module(sys.argv[1]).setup()
    elif GUNICORN:
        from gunicorn.app.wsgiapp import run

        sys.argv = [
            "gunicorn", "--workers", os.environ["WORKERS"], "--worker-class", "sync",
            "--bind", f"127.0.0.1:{os.environ['PORT']}", "--log-level", "warning",
            f"{sys.argv[1]}:create()",
        ]  # fmt: skip
        run()
    else:
        import uvicorn

        uvicorn.run(
            f"{sys.argv[1]}:create",
            factory=True,
            host="127.0.0.1",
            port=int(os.environ["PORT"]),
            workers=int(os.environ["WORKERS"]),
            log_level="warning",  # as the rendered service under LOG_LEVEL=WARNING
            proxy_headers=False,  # as the rendered service
        )
