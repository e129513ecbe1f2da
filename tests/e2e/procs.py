"""A small process manager for end-to-end tests: real `xinfang serve` processes.

Each process gets a free port, its own log file, an environment built from
`os.environ` plus the settings given, and is waited on until `/readyz` says 200.
`stop_all()` terminates (then kills) every process it ever started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 20.0


def xinfang_command() -> list[str]:
    """The `xinfang` console script of the running interpreter's venv, else the module."""
    script = Path(sys.executable).parent / "xinfang"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "services.cli"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def run_cli(args: list[str], env: dict[str, str], timeout: float = 60.0) -> str:
    """Run one `xinfang ...` command to completion; its stdout, or a failure with stderr."""
    done = subprocess.run(
        [*xinfang_command(), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"xinfang {' '.join(args)} exited {done.returncode}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
    return done.stdout


@dataclass
class Proc:
    name: str
    argv: list[str]
    port: int
    log_path: Path
    popen: subprocess.Popen[bytes]
    _log_file: object = field(repr=False, default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        return tail(self.log_path, lines)

    def describe(self) -> str:
        state = "running" if self.alive() else f"exited {self.popen.returncode}"
        return (
            f"process {self.name} (pid {self.pid}, port {self.port}, {state}); "
            f"log {self.log_path}, last lines:\n{self.log_tail()}"
        )


class ProcessManager:
    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, **env}
        self.procs: list[Proc] = []
        self._counter = 0

    def start(
        self, service: str | None = None, *, name: str | None = None, wait: bool = True
    ) -> Proc:
        """Start `xinfang serve [--service SERVICE] --port P`; wait for /readyz unless told not to."""
        self._counter += 1
        label = name or service or "all"
        port = free_port()
        argv = [*xinfang_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
        if service:
            argv += ["--service", service]
        log_path = self.log_dir / f"{self._counter:02d}-{label}.log"
        log_file = open(log_path, "wb")  # noqa: SIM115 - closed in stop_all
        popen = subprocess.Popen(
            argv,
            env={**self.env, "PORT": str(port)},
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc = Proc(label, argv, port, log_path, popen, log_file)
        self.procs.append(proc)
        if wait:
            self.wait_ready(proc)
        return proc

    def wait_ready(self, proc: Proc, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with httpx.Client(timeout=2.0) as client:
            while True:
                if not proc.alive():
                    raise AssertionError(
                        f"{proc.name} exited before it was ready; {proc.describe()}"
                    )
                try:
                    r = client.get(f"{proc.url}/readyz")
                    if r.status_code == 200:
                        return
                    last = f"{r.status_code} {r.text}"
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{proc.name} not ready within {timeout}s (last /readyz: {last}); "
                        f"{proc.describe()}"
                    )
                time.sleep(0.1)

    def kill9(self, proc: Proc) -> None:
        """SIGKILL: no shutdown hooks, no acks, no outbox bookkeeping."""
        with contextlib.suppress(ProcessLookupError):
            proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait(timeout=10)

    def terminate(self, procs: list[Proc], grace: float) -> dict[str, float | None]:
        """SIGTERM `procs` together; how long each took to exit, None for those still
        running after `grace` seconds (these are then killed)."""
        started = time.monotonic()
        for proc in procs:
            if proc.alive():
                with contextlib.suppress(ProcessLookupError):
                    proc.popen.terminate()
        took: dict[str, float | None] = {}
        for proc in procs:
            remaining = max(0.0, started + grace - time.monotonic())
            try:
                proc.popen.wait(timeout=remaining)
                took[proc.name] = round(time.monotonic() - started, 2)
            except subprocess.TimeoutExpired:
                took[proc.name] = None
        for proc in procs:
            if proc.alive():
                self.kill9(proc)
        return took

    def stop_all(self, grace: float = 5.0) -> None:
        for proc in self.procs:
            if proc.alive():
                with contextlib.suppress(ProcessLookupError):
                    proc.popen.terminate()
        deadline = time.monotonic() + grace
        for proc in self.procs:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                proc.popen.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.popen.kill()
                proc.popen.wait(timeout=10)
        for proc in self.procs:
            if proc._log_file is not None:
                with contextlib.suppress(Exception):
                    proc._log_file.close()  # type: ignore[attr-defined]
