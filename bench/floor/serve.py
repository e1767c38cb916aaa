"""Serve a floor or peer app the way the rendered service serves itself: uvicorn with
$WORKERS processes on 127.0.0.1:$PORT, and a WSGI app inside a2wsgi's WSGIMiddleware with
$THREADS threads (the rendered service's own thread count, passed in by compare.py).

    python serve.py MODULE          # uvicorn's factory MODULE:create, called in each worker
    python serve.py MODULE setup    # MODULE.setup(): tables and the one user, once, first
"""

import importlib
import os
import sys

import uvicorn


def wsgi(app):
    from a2wsgi import WSGIMiddleware

    return WSGIMiddleware(app, workers=int(os.environ["THREADS"]))


if __name__ == "__main__":
    if sys.argv[2:] == ["setup"]:
        importlib.import_module(sys.argv[1]).setup()
    else:
        uvicorn.run(
            f"{sys.argv[1]}:create",
            factory=True,
            host="127.0.0.1",
            port=int(os.environ["PORT"]),
            workers=int(os.environ["WORKERS"]),
            log_level="warning",  # as the rendered service under LOG_LEVEL=WARNING
            proxy_headers=False,  # as the rendered service
        )
