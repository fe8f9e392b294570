"""Test setup: the real bridge, capability gates, async tests without plugins, leak checks.

The bridge is `$SANDBOX_RPC_BIN`, else the checkout's `.build/debug/sandbox-rpc`. When it is
missing, every test is skipped with the reason, except under `CI=true`, where they fail. Docker
tests do the same when the bridge, given `--docker-agent $SANDBOX_RPC_DOCKER_AGENT`, cannot make
docker sandboxes.
"""

import asyncio
import inspect
import os
import signal
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rpc_test_support import (  # noqa: E402
    BRIDGE,
    DOCKER_AGENT,
    IN_CI,
    bridge_children,
    client_threads,
    docker_unavailable,
    eventually,
)
from sandbox_rpc import Sandbox  # noqa: E402

FILES_REASON = "bridge lacks files capability"
PTY_REASON = "bridge lacks pty capability"


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
def docker_bridge_args(bridge_path: str) -> List[str]:
    """Bridge arguments for docker sandboxes; skips (fails under CI=true) where there are none."""
    reason = docker_unavailable(bridge_path, DOCKER_AGENT)
    if reason:
        if IN_CI:
            pytest.fail(f"docker sandboxes unavailable: {reason} [CI=true]", pytrace=False)
        pytest.skip(f"docker sandboxes unavailable: {reason}")
    assert DOCKER_AGENT is not None
    return ["--docker-agent", DOCKER_AGENT]


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


