"""``WORKERS`` > 1: a small parent that binds the port, forks the workers and replaces one
that dies. Each worker imports uvicorn and the app itself, after the fork, and runs
uvicorn's command line on the parent's listening socket, as uvicorn's own workers do.

uvicorn's own ``--workers`` supervisor starts every worker in a fresh interpreter through
multiprocessing's spawn, which also starts a resource-tracker process, and keeps uvicorn,
its command line, asyncio and ssl loaded in the parent: about 43 MiB beside the workers.
This parent holds only the standard library's process and signal calls (about 13 MiB).

Signals to the parent: SIGTERM or SIGINT stops every worker gracefully and waits for them
(uvicorn's ``--timeout-graceful-shutdown`` bounds each); SIGHUP starts a new set of
workers, then stops the old ones, which finish what they were answering.
"""

import atexit
import contextlib
import os
import signal
import socket
import sys
import time

# A worker that fails this soon after its start (an import error, a store or database it
# cannot reach, a bad setting) would fail again: the service stops instead of looping.
START_SECONDS = 10.0
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
LEVELS = ("trace", "debug", "info", "warning", "error", "critical")


def exit_normally(signum, frame) -> None:
    raise SystemExit(0)  # a stop that was asked for, and carried out


def several_workers(args: list[str]) -> bool:
    """uvicorn's command line asks for more than one worker (``dev``'s reload keeps one)."""
    return int(option(args, "--workers", "1")) > 1 and "--reload" not in args


def option(args: list[str], name: str, default: str = "") -> str:
    return args[args.index(name) + 1] if name in args else default


def without(args: list[str], *names: str) -> list[str]:
    """``args`` less each ``--name value`` pair of ``names``."""
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in names:
            skip = True
        else:
            kept.append(arg)
    return kept


class Supervisor:
    def __init__(self, args: list[str]) -> None:
        self.count = int(option(args, "--workers", "1"))
        self.verbose = LEVELS.index(option(args, "--log-level", "info")) <= LEVELS.index("info")
        self.listener = listen(option(args, "--host", "127.0.0.1"), int(option(args, "--port")))
        self.worker_args = without(args, "--workers")  # each worker is one process
        self.workers: dict[int, float] = {}  # pid: when it started (monotonic)
        self.retiring: set[int] = set()
        self.stopping = False
        self.failure = 0

    def log(self, level: str, message: str) -> None:
        if level != "INFO" or self.verbose:
            print(f"{level + ':':<10}{message}", file=sys.stderr, flush=True)

    def run(self) -> int:
        host, port = self.listener.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self.log("INFO", f"Started parent process [{os.getpid()}]")
        self.log("INFO", f"Listening on http://{shown}:{port} with {self.count} workers")
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGHUP, self.replace_all)
        for _ in range(self.count):
            self.start_worker()
        while self.workers:
            try:
                pid, status = os.wait()  # a signal's handler runs, then the wait goes on
            except ChildProcessError:
                break
            self.reap(pid, status)
        self.listener.close()
        self.log("INFO", f"Stopping parent process [{os.getpid()}]")
        return self.failure

    def reap(self, pid: int, status: int) -> None:
        started = self.workers.pop(pid, None)
        if started is None:
            return
        if pid in self.retiring or self.stopping:
            self.retiring.discard(pid)
            return
        code = os.waitstatus_to_exitcode(status)
        how = f"exit code {code}" if code >= 0 else f"signal {signal.Signals(-code).name}"
        if code > 0 and time.monotonic() - started < START_SECONDS:
            self.log("ERROR", f"Worker [{pid}] failed as it started ({how}): stopping")
            self.failure = code
            self.stop()
            return
        self.log("WARNING", f"Worker [{pid}] ended ({how}): starting another")
        self.start_worker()

    def start_worker(self) -> None:
        # Held until the child has its own handlers: the parent's would stop its siblings.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        pid = os.fork()
        if pid == 0:  # the worker: whatever happens, it never returns into the parent's code
            code = 1
            try:
                code = serve_in_worker(self.worker_args, self.listener)
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        self.workers[pid] = time.monotonic()  # before a stop can come: it reaches this one
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    def stop(self, signum=None, frame=None) -> None:
        self.stopping = True
        for pid in self.workers:
            terminate(pid)

    def replace_all(self, signum=None, frame=None) -> None:
        if self.stopping:
            return
        old = [pid for pid in self.workers if pid not in self.retiring]
        self.log("INFO", f"Replacing workers {old}")
        for _ in range(self.count):
            self.start_worker()
        self.retiring.update(old)
        for pid in old:
            terminate(pid)


def terminate(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # gone: its exit waits to be reaped
        os.kill(pid, signal.SIGTERM)


def listen(host: str, port: int) -> socket.socket:
    """The socket uvicorn binds, once for every worker: IPv6 when the host says so."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.set_inheritable(True)
    return listener


def serve_in_worker(args: list[str], listener: socket.socket) -> int:
    """In the forked child: uvicorn's command line on ``listener``, then what a normal
    exit runs (the outbox's ``atexit`` sends its queued mail), then the exit code."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, exit_normally)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    code = 1
    try:
        import importlib

        from uvicorn.server import Server

        class OnTheParentsSocket(Server):
            def run(self, sockets=None) -> None:
                super().run(sockets=[listener])

        # The server that uvicorn's ``run`` builds serves the socket handed to it, as in
        # uvicorn's own workers: a TCP socket (``--fd`` would say AF_UNIX, and uvloop
        # would then leave Nagle's algorithm on every connection).
        command_line = importlib.import_module("uvicorn.main")
        command_line.Server = OnTheParentsSocket
        command_line.main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        code = 0
    finally:
        atexit._run_exitfuncs()  # os._exit below skips them otherwise
        sys.stdout.flush()
        sys.stderr.flush()
    return code
