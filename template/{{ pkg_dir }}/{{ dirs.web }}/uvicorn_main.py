"""What ``serve`` runs in place of itself: uvicorn's own command line, with a SIGTERM
that ends in a normal exit, so that ``atexit`` runs (the outbox sends its queued mail
there) in this process and in each of its ``WORKERS`` processes.

uvicorn stops gracefully on SIGTERM, then puts back the handler it found and raises
SIGTERM again. Python's default is to die of it at once, skipping ``atexit``; the
handler it finds here exits normally instead. ``multiprocessing`` imports this module
again at the start of every worker process it spawns (it is the main module), so each
worker has the same handler before uvicorn starts in it.
"""

import signal


def exit_normally(signum, frame) -> None:
    raise SystemExit(0)  # a stop that was asked for, and carried out


signal.signal(signal.SIGTERM, exit_normally)

if __name__ == "__main__":
    from uvicorn.main import main

    main()
