"""Shared pieces of the reliability suite: the conformance harness, scale, /proc probes, figures.

The conformance harness (../conformance/conftest.py: `Bridge`, the stdout reader that validates every
line against schema/, the /proc helpers) is imported, not copied: it is loaded here under its own
module name so that this suite and the conformance suite can run in one pytest session.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CONFORMANCE = REPO / "Tests" / "conformance"

# Ids and params with 10,000-digit numbers are part of the fuzzing; Python refuses to parse integers
# of more than 4300 digits by default, which would make the harness call a valid line non-JSON.
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)


def _load_conformance_harness():
    name = "sandbox_rpc_conformance_harness"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, CONFORMANCE / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


harness = _load_conformance_harness()
import schema_check  # noqa: E402  (on sys.path once the harness is loaded)

Bridge = harness.Bridge
RpcError = harness.RpcError
SECRET_NAME = harness.SECRET_NAME
SECRET_VALUE = harness.SECRET_VALUE
proc_stat = harness.proc_stat
wait_gone = harness.wait_gone
is_gone = harness.is_gone
children_of = harness.children_of
zombies_of = harness.zombies_of
vm_rss_kib = harness.vm_rss_kib

IN_CI = os.environ.get("CI") == "true"
MiB = 1024 * 1024

# --------------------------------------------------------------------------- scale
# SANDBOX_RPC_RELIABILITY=long (scripts/reliability --long) selects the long form. Every size can also
# be set on its own with the environment variable named next to it.
LONG = os.environ.get("SANDBOX_RPC_RELIABILITY", "short") == "long"


def size(env: str, short: int, long: int) -> int:
    """A workload size: $env when set, else the short or the long form's value."""
    value = os.environ.get(env)
    return int(value) if value else (long if LONG else short)


def seed() -> int:
    """The fuzzers' seed: $RELIABILITY_SEED, else 0 in the short form (the same cases every run, so a
    CI failure reproduces) and a fresh one in the long form (printed, so it can be replayed)."""
    value = os.environ.get("RELIABILITY_SEED")
    if value:
        return int(value)
    if not LONG:
        return 0
    global _LONG_SEED
    if _LONG_SEED is None:
        _LONG_SEED = int.from_bytes(os.urandom(4), "big")
    return _LONG_SEED


_LONG_SEED: int | None = None


# --------------------------------------------------------------------------- binaries
def debug_binary() -> str:
    return os.environ.get("SANDBOX_RPC_BIN") or str(REPO / ".build" / "debug" / "sandbox-rpc")


def _newest_source_mtime() -> float:
    newest = (REPO / "Package.swift").stat().st_mtime
    for root, _, files in os.walk(REPO / "Sources"):
        for name in files:
            newest = max(newest, os.stat(os.path.join(root, name)).st_mtime)
    return newest


def load_binary() -> str:
    """The binary for load tests: $SANDBOX_RPC_LOAD_BIN; else, when SANDBOX_RPC_BIN is unset or names
    the debug build, the release build if it is newer than every file under Sources/ (a stale release
    binary would test old code); else the same binary as every other test."""
    explicit = os.environ.get("SANDBOX_RPC_LOAD_BIN")
    if explicit:
        return explicit
    debug = REPO / ".build" / "debug" / "sandbox-rpc"
    release = REPO / ".build" / "release" / "sandbox-rpc"
    chosen = debug_binary()
    if Path(chosen).resolve() != debug.resolve():
        return chosen
    try:
        if release.is_file() and os.access(release, os.X_OK) and release.stat().st_mtime >= _newest_source_mtime():
            return str(release)
    except OSError:
        pass
    return chosen


# --------------------------------------------------------------------------- /proc
def fd_table(pid: int) -> dict[int, str]:
    """fd -> what it points at, for a live process ({} once it is gone)."""
    out = {}
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return {}
    for name in names:
        try:
            out[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            pass
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def direct_children(pid: int) -> list[int]:
    """Children of every thread of pid (a child belongs to the thread that forked it)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        return out
    for tid in tasks:
        try:
            out += [int(x) for x in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = direct_children(pid)
    while todo:
        child = todo.pop()
        out.append(child)
        todo += direct_children(child)
    return out


def keepers_of(bridge_pid: int) -> list[int]:
    """The bridge's keeper processes (argv[1] == "__keeper")."""
    out = []
    for child in direct_children(bridge_pid):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if len(argv) > 1 and argv[1] == b"__keeper":
            out.append(child)
    return out


def processes_with_env(marker: str) -> list[int]:
    """Live (non-zombie) processes whose environment holds `marker` (a NAME=value string)."""
    needle = marker.encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if needle in env.split(b"\0") and not is_gone(pid):
            found.append(pid)
    return found


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def wchan(pid: int) -> str:
    """The kernel function the process sleeps in ("pipe_write", "do_epoll_wait", ...)."""
    try:
        return Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return ""


def thread_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        return 0


# --------------------------------------------------------------------------- figures
class Figures:
    """What the suite did, for the README's "Reliability" section: printed at the end of the run and
    written as JSON to $RELIABILITY_REPORT when set."""

    def __init__(self) -> None:
        self.fuzz_cases: dict[str, int] = defaultdict(int)
        self.faults_injected: dict[str, int] = defaultdict(int)
        self.faults_survived: dict[str, int] = defaultdict(int)
        self.load: dict[str, dict] = {}
        self.leak_checks: dict[str, int] = defaultdict(int)
        self.leaks_found: list[str] = []
        self.known_findings: dict[str, int] = defaultdict(int)
        self.started = time.monotonic()

    def fuzzed(self, kind: str, n: int = 1) -> None:
        self.fuzz_cases[kind] += n

    @contextmanager
    def fault(self, name: str, times: int = 1):
        """Counts `times` injections of fault `name`; they count as survived when the block passes."""
        self.faults_injected[name] += times
        yield
        self.faults_survived[name] += times

    def known_finding(self, name: str) -> None:
        self.known_findings[name] += 1

    def loaded(self, name: str, **numbers: Any) -> None:
        self.load[name] = numbers

    def leak_check(self, what: str, leaked: Iterable[Any] = ()) -> list:
        leaked = list(leaked)
        self.leak_checks[what] += 1
        if leaked:
            self.leaks_found.append(f"{what}: {leaked[:20]}")
        return leaked

    def as_dict(self) -> dict:
        return {
            "form": "long" if LONG else "short",
            "seed": seed(),
            "fuzz": {"total": sum(self.fuzz_cases.values()), **dict(sorted(self.fuzz_cases.items()))},
            "faults": {"injected": sum(self.faults_injected.values()),
                       "survived": sum(self.faults_survived.values()),
                       "by_fault": {k: [self.faults_survived.get(k, 0), v] for k, v in sorted(self.faults_injected.items())}},
            "load": self.load,
            "leaks": {"checks": sum(self.leak_checks.values()), "found": self.leaks_found,
                      "by_check": dict(sorted(self.leak_checks.items()))},
            "known_findings_met_while_fuzzing": dict(sorted(self.known_findings.items())),
            "seconds": round(time.monotonic() - self.started, 1),
        }

    def summary_lines(self) -> list[str]:
        d = self.as_dict()
        lines = [f"form: {d['form']} (seed {d['seed']}), {d['seconds']} s"]
        lines.append(f"fuzz cases: {d['fuzz']['total']:,} ("
                     + ", ".join(f"{k} {v:,}" for k, v in d["fuzz"].items() if k != "total") + ")")
        lines.append(f"faults injected / survived: {d['faults']['injected']:,} / {d['faults']['survived']:,}")
        for name, (survived, injected) in d["faults"]["by_fault"].items():
            lines.append(f"  {name}: {survived}/{injected}")
        for name, numbers in d["load"].items():
            lines.append(f"load {name}: " + ", ".join(f"{k} {v}" for k, v in numbers.items()))
        for name, n in d["known_findings_met_while_fuzzing"].items():
            lines.append(f"  open finding met by the fuzzers: {name} ({n}x; see test_findings.py)")
        lines.append(f"leak checks: {d['leaks']['checks']}, leaks found: {len(d['leaks']['found'])}")
        for leak in d["leaks"]["found"]:
            lines.append(f"  LEAK {leak}")
        return lines

    def write(self) -> None:
        path = os.environ.get("RELIABILITY_REPORT")
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(json.dumps(self.as_dict(), indent=2) + "\n")


figures = Figures()


# --------------------------------------------------------------------------- small helpers
def wait_until(pred, timeout: float, what: str, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def id_null_errors(bridge, start: int = 0, end: int | None = None) -> list[dict]:
    """Error responses with id null among the bridge's records[start:end]."""
    with bridge.cond:
        recs = bridge.records[start:end]
    return [r.msg for r in recs if isinstance(r.msg, dict) and "error" in r.msg and r.msg.get("id") is None]


def dumps(msg: Any) -> bytes:
    return json.dumps(msg, separators=(",", ":"), ensure_ascii=False).encode()


def register_requests(bridge, payload: bytes) -> None:
    """Note the requests in payload's lines, so the harness can check each answer against its request
    (the harness's own send_raw gives up on lines nested too deep for Python's json)."""
    for line in payload.split(b"\n"):
        try:
            bridge.register(json.loads(line))
        except (ValueError, RecursionError):
            pass


def exchange(bridge, payload: bytes, timeout: float = 30.0) -> list:
    """Write payload (plus a newline), then a ping; returns the messages written before the ping's
    answer (errors for unparsable lines are written before the next line is read)."""
    r0 = len(bridge.records)
    register_requests(bridge, payload)
    bridge.send_bytes(payload + b"\n", timeout=timeout)
    rec = bridge.response_record(bridge.request("ping"), timeout)
    with bridge.cond:
        return [r.msg for r in bridge.records[r0:rec.index]]


class RawBridge:
    """A bridge driven without the harness's reader thread, for faults that need the pipes themselves
    (closing the read end of the bridge's stdout, for one)."""

    def __init__(self, argv: list[str], env: dict | None = None, cwd: str | None = None):
        import subprocess
        import tempfile
        self.stderr_file = tempfile.NamedTemporaryFile(prefix="sandbox-rpc-raw-stderr-", delete=False)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr_file,
                                     env=env, cwd=cwd, bufsize=0)
        self.pid = self.proc.pid

    def send(self, msg: Any) -> None:
        self.proc.stdin.write(dumps(msg) + b"\n")

    def read_until(self, needle: bytes, timeout: float = 10.0, limit: int = 64 * MiB) -> bytes:
        """Read stdout until `needle` has been seen (or fail)."""
        import select
        fd = self.proc.stdout.fileno()
        got = bytearray()
        deadline = time.monotonic() + timeout
        while needle not in got:
            remaining = deadline - time.monotonic()
            assert remaining > 0 and len(got) < limit, f"{needle!r} not seen on stdout; got {bytes(got[-300:])!r}"
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 1 << 20)
                assert chunk, f"stdout closed before {needle!r}; got {bytes(got[-300:])!r}"
                got += chunk
        return bytes(got)

    def stderr_text(self) -> str:
        try:
            return Path(self.stderr_file.name).read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        try:
            os.unlink(self.stderr_file.name)
        except OSError:
            pass
