"""Harness for black-box tests of the real `sandbox-rpc` binary over pipes.

Every line the bridge writes on stdout is parsed and validated against ../../schema/ on a reader
thread; a non-JSON byte or a schema violation fails the test that was running.

Binary: $SANDBOX_RPC_BIN, default /work/main/.build/debug/sandbox-rpc (relative to this checkout).
Missing binary: the tests are skipped, except with CI=true, where they fail.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import schema_check  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("SANDBOX_RPC_BIN") or str(REPO / ".build" / "debug" / "sandbox-rpc")
IN_CI = os.environ.get("CI") == "true"

SECRET_NAME = "SANDBOX_RPC_CONFORMANCE_SECRET"
SECRET_VALUE = "s3cr3t-api-key-must-not-leak-7f3a"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# --------------------------------------------------------------------------- /proc helpers
@dataclass(frozen=True)
class ProcStat:
    pid: int
    state: str
    ppid: int
    pgrp: int
    session: int
    starttime: int


def proc_stat(pid: int) -> ProcStat | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = raw[raw.rindex(")") + 2:].split()
    return ProcStat(pid, rest[0], int(rest[1]), int(rest[2]), int(rest[3]), int(rest[19]))


def is_gone(pid: int, starttime: int | None = None) -> bool:
    """The process no longer runs: no /proc entry, a zombie/dead entry, or a reused pid."""
    st = proc_stat(pid)
    return st is None or st.state in ("Z", "X", "x") or (starttime is not None and st.starttime != starttime)


def wait_gone(pids, timeout: float = 5.0) -> list[int]:
    """Poll /proc until every pid is gone; returns those still running after timeout."""
    stats = {p: proc_stat(p) for p in pids}
    starts = {p: (st.starttime if st else None) for p, st in stats.items()}
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in pids if not is_gone(p, starts[p])]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def is_running(pid: int) -> bool:
    return not is_gone(pid)


def children_of(ppid: int) -> list[ProcStat]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st and st.ppid == ppid:
                out.append(st)
    return out


def zombies_of(ppid: int, settle: float = 2.0) -> list[int]:
    """Zombie children of ppid that stay unreaped for `settle` seconds."""
    deadline = time.monotonic() + settle
    while True:
        z = [c.pid for c in children_of(ppid) if c.state == "Z"]
        if not z or time.monotonic() > deadline:
            return z
        time.sleep(0.05)


def vm_rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


def signum(name: str) -> int:
    return int(getattr(signal.Signals, name))


# --------------------------------------------------------------------------- the harness
@dataclass
class Record:
    index: int
    t: float
    msg: Any
    raw: bytes | None


class RpcError(AssertionError):
    def __init__(self, error: dict, method: str):
        super().__init__(f"{method} answered an error: {json.dumps(error)[:2000]}")
        self.error = error


class Bridge:
    """One running sandbox-rpc process, driven through its stdin/stdout."""

    def __init__(self, binary: str, args=(), env: dict | None = None, workdir: str | None = None):
        self.table = schema_check.RequestTable()
        self.records: list[Record] = []
        self.responses: dict[tuple, list[Record]] = defaultdict(list)
        self.violations: list[str] = []
        self.cond = threading.Condition()
        self.eof = False
        self.retain_output = True  # False: commands.output data is counted, not kept (big streams)
        self.output_hook: Callable[[dict], None] | None = None
        self.output_bytes: dict[tuple, int] = defaultdict(int)  # (sandboxId, pid, stream) -> len(data) chars
        self.raw_bytes = 0
        self._gate = threading.Event()
        self._gate.set()
        self._write_lock = threading.Lock()
        self._next_id = 100000
        self.argv = [binary, *args]
        if env is None:
            env = dict(os.environ)
        env = dict(env)
        env[SECRET_NAME] = SECRET_VALUE
        self.stderr_file = tempfile.NamedTemporaryFile(prefix="sandbox-rpc-stderr-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr_file, env=env, cwd=workdir, bufsize=0)
        self.pid = self.proc.pid
        self._stdin_fd = self.proc.stdin.fileno()
        fl = fcntl.fcntl(self._stdin_fd, fcntl.F_GETFL)
        fcntl.fcntl(self._stdin_fd, fcntl.F_SETFL, fl | os.O_NONBLOCK)  # our end only: writes time out
        self.reader = threading.Thread(target=self._read_loop, name=f"stdout-{self.pid}", daemon=True)
        self.reader.start()

    # ------------------------------------------------------------------ reading
    def _read_loop(self) -> None:
        fd = self.proc.stdout.fileno()
        buf = bytearray()
        try:
            while True:
                self._gate.wait()
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                self.raw_bytes += len(chunk)
                search_from = len(buf)  # buf holds no \n before this: every full line was taken
                buf += chunk
                start = 0
                while True:
                    nl = buf.find(b"\n", max(start, search_from))
                    if nl < 0:
                        break
                    self._on_line(bytes(buf[start:nl]))
                    start = nl + 1
                if start:
                    del buf[:start]
        except Exception as exc:  # a harness bug must not pass silently
            self._violation(f"harness reader crashed: {exc!r}")
        finally:
            if buf:
                self._violation(f"stdout ended with {len(buf)} bytes not terminated by \\n: {bytes(buf[:200])!r}")
            with self.cond:
                self.eof = True
                self.cond.notify_all()

    def _violation(self, text: str) -> None:
        with self.cond:
            self.violations.append(text)
            self.cond.notify_all()

    def _on_line(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            self._violation(f"stdout line ends with \\r: {line[:200]!r}")
        try:
            msg = schema_check.parse_line(line)
        except ValueError as exc:
            self._violation(f"non-JSON line on stdout ({exc}): {line[:300]!r}")
            return
        problems = schema_check.check_server_message(msg, self.table)
        responses = []
        if isinstance(msg, dict) and "method" not in msg:
            responses = [msg]
        elif isinstance(msg, list):
            responses = [m for m in msg if isinstance(m, dict) and "method" not in m]
        for r in responses:
            err = r.get("error")
            if isinstance(err, dict) and err.get("code") == -32603:
                problems.append("-32603 Internal: a server bug by the contract (never the answer to bad input)")
            if "id" in r:
                sent, answered = self.table.answered(r["id"])
                if r["id"] is not None and answered > sent:
                    problems.append(f"id {json.dumps(r['id'])} answered {answered} times, sent {sent} times")
        is_output = isinstance(msg, dict) and msg.get("method") == "commands.output"
        if is_output:
            p = msg.get("params") or {}
            data = p.get("data")
            if isinstance(data, str):
                self.output_bytes[(p.get("sandboxId"), p.get("pid"), p.get("stream"))] += len(data)
            if self.output_hook is not None:
                self.output_hook(msg)
            if not self.retain_output:
                msg = {**msg, "params": {**p, "data": None}}
        with self.cond:
            if problems:
                self.violations.extend(f"{pr} -- line: {line[:300]!r}" for pr in problems)
            rec = Record(len(self.records), time.monotonic(), msg, None if is_output else line)
            self.records.append(rec)
            for r in responses:
                if "id" in r:
                    self.responses[schema_check.id_key(r["id"])].append(rec)
            self.cond.notify_all()

    def pause_reading(self) -> None:
        self._gate.clear()

    def resume_reading(self) -> None:
        self._gate.set()

    # ------------------------------------------------------------------ writing
    def send_bytes(self, data: bytes, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        with self._write_lock:
            while view:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"bridge did not read its stdin for {timeout}s")
                _, writable, _ = select.select([], [self._stdin_fd], [], remaining)
                if not writable:
                    continue
                try:
                    n = os.write(self._stdin_fd, view)
                except BlockingIOError:
                    continue
                view = view[n:]

    def register(self, msg: Any) -> None:
        """Note the requests in msg (a request, or a batch) so answers can be checked."""
        items = msg if isinstance(msg, list) else [msg]
        for item in items:
            if isinstance(item, dict) and "id" in item and isinstance(item.get("method"), str):
                self.table.add(item["id"], item["method"], item.get("params"))
            elif isinstance(item, dict) and "id" in item:
                self.table.add(item["id"], None, None)

    def send_raw(self, data: bytes | str, register: bool = True) -> None:
        """Write raw bytes (add the newline yourself); requests found in them are registered."""
        if isinstance(data, str):
            data = data.encode()
        if register:
            for line in data.split(b"\n"):
                try:
                    self.register(json.loads(line))
                except (ValueError, UnicodeDecodeError):
                    pass
        self.send_bytes(data)

    def send(self, msg: Any) -> None:
        self.register(msg)
        self.send_bytes(json.dumps(msg, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def request(self, method: str, params: dict | None = None, id: Any = "auto") -> Any:
        rid = self.new_id() if id == "auto" else id
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return rid

    def notify(self, method: str, params: Any = None) -> None:
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    # ------------------------------------------------------------------ waiting
    def _describe_tail(self, n: int = 8) -> str:
        tail = self.records[-n:]
        return "\n".join(json.dumps(r.msg)[:300] for r in tail) or "(nothing)"

    def wait_for(self, pred: Callable[[Any], bool], timeout: float = 10.0, start: int = 0,
                 what: str = "a message") -> Record:
        deadline = time.monotonic() + timeout
        i = start
        with self.cond:
            while True:
                while i < len(self.records):
                    rec = self.records[i]
                    if pred(rec.msg):
                        return rec
                    i += 1
                if self.eof:
                    raise AssertionError(f"stdout closed while waiting for {what}; last messages:\n{self._describe_tail()}"
                                         f"\nstderr tail:\n{self.stderr_tail()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last messages:\n{self._describe_tail()}")
                self.cond.wait(remaining)

    def wait_response(self, rid: Any, timeout: float = 10.0) -> dict:
        key = schema_check.id_key(rid)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                recs = self.responses.get(key)
                if recs:
                    rec = recs[0]
                    if isinstance(rec.msg, list):
                        return next(m for m in rec.msg if isinstance(m, dict) and schema_check.id_key(m.get("id")) == key)
                    return rec.msg
                if self.eof:
                    raise AssertionError(f"stdout closed before the response to id {rid!r}; stderr tail:\n{self.stderr_tail()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no response to id {rid!r} within {timeout}s; last messages:\n{self._describe_tail()}")
                self.cond.wait(remaining)

    def response_record(self, rid: Any, timeout: float = 10.0) -> Record:
        self.wait_response(rid, timeout)
        return self.responses[schema_check.id_key(rid)][0]

    def call(self, method: str, params: dict | None = None, timeout: float = 10.0, id: Any = "auto") -> dict:
        return self.wait_response(self.request(method, params, id=id), timeout)

    def ok(self, method: str, params: dict | None = None, timeout: float = 10.0, id: Any = "auto") -> Any:
        resp = self.call(method, params, timeout, id)
        if "error" in resp:
            raise RpcError(resp["error"], method)
        return resp["result"]

    def err(self, method: str, params: dict | None = None, timeout: float = 10.0, id: Any = "auto") -> dict:
        resp = self.call(method, params, timeout, id)
        assert "error" in resp, f"{method} {params} should fail but answered {json.dumps(resp)[:500]}"
        return resp["error"]

    def run(self, cmd: str, wait: float = 20.0, **params) -> dict:
        """A foreground commands.run (params as on the wire); returns its CommandResult."""
        return self.ok("commands.run", {"cmd": cmd, **params}, timeout=wait)

    def quiet_for(self, seconds: float, start: int) -> list[Any]:
        """Messages that arrived from index `start` on after waiting `seconds`."""
        time.sleep(seconds)
        with self.cond:
            return [r.msg for r in self.records[start:]]

    # ------------------------------------------------------------------ notifications
    def notifications(self, method: str | None = None, pid: int | None = None,
                      sandbox_id: str | None = None) -> list[dict]:
        with self.cond:
            recs = list(self.records)
        out = []
        for r in recs:
            m = r.msg
            if not isinstance(m, dict) or "method" not in m:
                continue
            if method is not None and m["method"] != method:
                continue
            p = m.get("params") or {}
            if pid is not None and p.get("pid") != pid:
                continue
            if sandbox_id is not None and p.get("sandboxId") != sandbox_id:
                continue
            out.append(m)
        return out

    def output_text(self, pid: int, stream: str = "stdout", sandbox_id: str | None = None) -> str:
        return "".join(n["params"]["data"] for n in self.notifications("commands.output", pid, sandbox_id)
                       if n["params"]["stream"] == stream)

    def output_bytes_b64(self, pid: int, stream: str = "stdout") -> bytes:
        return b"".join(base64.b64decode(n["params"]["data"], validate=True)
                        for n in self.notifications("commands.output", pid) if n["params"]["stream"] == stream)

    def wait_exit_notification(self, pid: int, timeout: float = 10.0, sandbox_id: str | None = None) -> Record:
        return self.wait_for(lambda m: isinstance(m, dict) and m.get("method") == "commands.exit"
                             and m["params"].get("pid") == pid
                             and (sandbox_id is None or m["params"].get("sandboxId") == sandbox_id),
                             timeout, what=f"commands.exit of pid {pid}")

    def wait_output(self, pid: int, text: str, stream: str = "stdout", timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output_text(pid, stream):
            if time.monotonic() > deadline:
                raise AssertionError(f"pid {pid} did not print {text!r} on {stream} within {timeout}s; "
                                     f"got {self.output_text(pid, stream)[-300:]!r}")
            with self.cond:
                self.cond.wait(0.05)

    # ------------------------------------------------------------------ ending
    def close_stdin(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def wait_exit(self, timeout: float = 10.0) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"bridge did not exit within {timeout}s; stderr tail:\n{self.stderr_tail()}") from None

    def join_reader(self, timeout: float = 20.0) -> None:
        self.resume_reading()
        self.reader.join(timeout)

    def stderr_tail(self, n: int = 3000) -> str:
        try:
            data = Path(self.stderr_file.name).read_bytes()
        except OSError:
            return ""
        return data[-n:].decode("utf-8", "replace")

    def stop(self) -> None:
        """Close stdin, wait for the exit (kill after 10 s), drain stdout."""
        self.resume_reading()
        if self.proc.poll() is None:
            self.close_stdin()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.close_stdin()
        self.join_reader()
        try:
            os.unlink(self.stderr_file.name)
        except OSError:
            pass


# --------------------------------------------------------------------------- fixtures
_HELP: dict[str, str] = {}


def _help_text(binary: str) -> str:
    if binary not in _HELP:
        try:
            p = subprocess.run([binary, "--help"], capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
            _HELP[binary] = (p.stdout + p.stderr).decode("utf-8", "replace")
        except (OSError, subprocess.TimeoutExpired):
            _HELP[binary] = ""
    return _HELP[binary]


@pytest.fixture(scope="session")
def bridge_bin() -> str:
    if not (os.path.isfile(BIN) and os.access(BIN, os.X_OK)):
        reason = (f"sandbox-rpc binary not found at {BIN}: build it (swift build) or set SANDBOX_RPC_BIN")
        if IN_CI:
            pytest.fail(reason + " (CI=true: a missing binary is a failure)", pytrace=False)
        pytest.skip(reason)
    return BIN


@pytest.fixture(scope="session")
def base_args(bridge_bin) -> list[str]:
    """Flags every bridge gets, where it has them: isolation none (these tests look at host pids in
    /proc)."""
    return ["--isolation", "none"] if "--isolation" in _help_text(bridge_bin) else []


_CURRENT: list[Bridge] = []


@pytest.fixture
def make_bridge(bridge_bin, base_args, tmp_path):
    made: list[Bridge] = []
    roots: list[str] = []

    def make(*args: str, env: dict | None = None, base: bool = True) -> Bridge:
        extra = list(base_args) if base else []
        if base and "--root" in _help_text(bridge_bin):  # a fresh sandbox root per bridge
            root = tempfile.mkdtemp(prefix="sandbox-rpc-conformance-")  # in /tmp: other users may enter it
            os.chmod(root, 0o755)
            roots.append(root)
            extra += ["--root", root]
        b = Bridge(bridge_bin, [*extra, *args], env=env, workdir=str(tmp_path))
        made.append(b)
        _CURRENT.append(b)
        return b

    yield make
    late = []
    for b in made:
        before = len(b.violations)
        b.stop()
        late += b.violations[before:]
        if b.violations:
            print(f"--- bridge {b.pid} {b.argv}: schema/stdout violations:\n" + "\n".join(b.violations[:30]))
    _CURRENT.clear()
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)
    if late:
        pytest.fail("stdout violations found while the bridge shut down:\n" + "\n".join(late[:30]), pytrace=False)


@pytest.fixture
def bridge(make_bridge) -> Bridge:
    return make_bridge()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield  # raises if the test body failed
    problems = [v for b in _CURRENT for v in b.violations]
    if problems:
        raise AssertionError("the bridge wrote stdout that does not fit schema/ (or is not JSON):\n"
                             + "\n".join(problems[:30]))
    return result
