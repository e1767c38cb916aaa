"""What ``serve`` runs in place of itself: uvicorn's own command line, with a SIGTERM
that ends in a normal exit, so that ``atexit`` runs (the outbox sends its queued mail
there). With ``WORKERS`` > 1, this process is the workers' small parent instead
(``worker_processes``), and each worker runs uvicorn's command line on its socket.

uvicorn stops gracefully on SIGTERM, then puts back the handler it found and raises
SIGTERM again. Python's default is to die of it at once, skipping ``atexit``; the
handler it finds here (or in a worker) exits normally instead.

With ``WORKERS`` > 1, or a Redis store (whose operator commands count too), the
processes keep their metrics in files of one directory (prometheus-client's
multiprocess mode): ``serve`` prepares it, and this process, the workers' parent,
empties it when they are all gone.
"""

import os
import shutil
import signal
import sys
from pathlib import Path

from .worker_processes import Supervisor, exit_normally, several_workers

METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# Set when serve made the directory itself: it is removed, not only emptied, at exit.
TEMPORARY_METRICS_DIR = "TRIPWIRE_TEMPORARY_METRICS_DIR"
# The service's runtime directory (config.runtime_dir), which serve holds: removed at exit.
RUNTIME_DIR = "TRIPWIRE_RUNTIME_DIR"


def prepare_metrics_dir(shared: bool, directory: str, default: Path) -> None:
    """Just before the workers start (they inherit the environment): when several
    processes count (``shared``), ``PROMETHEUS_MULTIPROC_DIR`` is ``directory`` (as given)
    or else ``default`` (made here, removed at exit), emptied of an earlier run's values;
    otherwise unset (the process's own registry holds every value)."""
    os.environ.pop(METRICS_DIR, None)
    if not shared:
        return
    if not directory:
        directory = os.environ[TEMPORARY_METRICS_DIR] = str(default)
    Path(directory).mkdir(parents=True, exist_ok=True)
    empty_metrics_dir(directory)
    os.environ[METRICS_DIR] = directory


def empty_metrics_dir(directory: str) -> None:
    for values in Path(directory).glob("*.db"):
        values.unlink(missing_ok=True)


def clean_metrics_dir() -> None:
    directory = os.environ.get(METRICS_DIR)
    if not directory:
        return
    if os.environ.get(TEMPORARY_METRICS_DIR) == directory:
        shutil.rmtree(directory, ignore_errors=True)
    else:
        empty_metrics_dir(directory)


signal.signal(signal.SIGTERM, exit_normally)


if __name__ == "__main__":
    try:
        if several_workers(sys.argv[1:]):
            # Our own small parent forks them (see worker_processes), not uvicorn's.
            sys.exit(Supervisor(sys.argv[1:]).run())
        else:
            from uvicorn.main import main

            main()
    finally:
        clean_metrics_dir()  # the workers have stopped: their values go with them
        if os.environ.get(RUNTIME_DIR):
            shutil.rmtree(os.environ[RUNTIME_DIR], ignore_errors=True)
