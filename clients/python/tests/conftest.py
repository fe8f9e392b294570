"""Test setup: the real bridge, capability gates, async tests without plugins, leak checks.

The bridge is `$SANDBOX_RPC_BIN`, else the checkout's `.build/debug/sandbox-rpc`. When it is
missing, every test is skipped with the reason, except under `CI=true`, where they fail.
"""

import asyncio
import inspect
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, TypeVar

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = PACKAGE_ROOT.parents[1]
sys.path.insert(0, str(PACKAGE_ROOT))

from sandbox_rpc import Sandbox, SandboxException  # noqa: E402

BRIDGE = os.environ.get("SANDBOX_RPC_BIN") or str(REPO_ROOT / ".build" / "debug" / "sandbox-rpc")
IN_CI = os.environ.get("CI") == "true"
FILES_REASON = "bridge lacks files capability"
PTY_REASON = "bridge lacks pty capability"

T = TypeVar("T")


def pytest_configure(config: Any) -> None:
    os.environ["SANDBOX_RPC_BIN"] = BRIDGE


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: Any) -> Optional[bool]:
    """Runs `async def` tests with asyncio.run (no plugin needed)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(asyncio.wait_for(pyfuncitem.obj(**args), 120))
        return True
    return None


@pytest.fixture(scope="session")
def bridge_path() -> str:
    if not os.access(BRIDGE, os.X_OK):
        message = f"sandbox-rpc binary not found at {BRIDGE} (build it, or set SANDBOX_RPC_BIN)"
        if IN_CI:
            pytest.fail(message + " [CI=true]", pytrace=False)
        pytest.skip(message)
    return BRIDGE


@pytest.fixture(scope="session")
def capabilities(bridge_path: str) -> Dict[str, Any]:
    with Sandbox() as sandbox:
        return sandbox.capabilities


@pytest.fixture
def requires_files(capabilities: Dict[str, Any]) -> None:
    if not capabilities.get("files"):
        pytest.skip(FILES_REASON)


@pytest.fixture
def requires_pty(capabilities: Dict[str, Any]) -> None:
    if not capabilities.get("pty"):
        pytest.skip(PTY_REASON)


def client_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sandbox-rpc-")]


def bridge_children() -> List[int]:
    """Pids of sandbox-rpc processes whose parent is this test process."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        is_bridge = any(os.path.basename(arg) == b"sandbox-rpc" for arg in argv[:2])
        if fields[0] != "Z" and int(fields[1]) == os.getpid() and is_bridge:
            found.append(int(entry))
    return found


def processes_with(marker: str) -> List[int]:
    """Pids whose command line contains `marker` (to find what a sandbox left running)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(int(entry))
    return found


def eventually(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.02) -> T:
    """Polls `check` until it returns something truthy (or fails the test)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: last value {value!r}")
        time.sleep(interval)


TEST_TIMEOUT = 180


@pytest.fixture(autouse=True)
def deadline() -> Iterator[None]:
    """A hung test fails (with a traceback where it hung) instead of hanging the suite."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"test still running after {TEST_TIMEOUT}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(autouse=True)
def no_leaks(request: Any) -> Iterator[None]:
    """After every test: no client thread and no bridge process is left."""
    yield
    if "bridge_path" not in request.fixturenames:
        return
    eventually(lambda: not client_threads() and not bridge_children(), timeout=10)


@pytest.fixture
def sandbox(bridge_path: str) -> Iterator[Sandbox]:
    sbx = Sandbox()
    try:
        yield sbx
    finally:
        sbx.kill()


def get_host_supported(sandbox: Sandbox) -> bool:
    try:
        sandbox.get_host(1)
    except SandboxException as e:
        if e.kind in ("MethodNotFound", "Unsupported"):
            return False
        raise
    return True
