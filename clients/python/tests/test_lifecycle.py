"""One bridge per sandbox; no thread or process outlives kill(), a with block, or garbage collection."""

import asyncio
import gc
import os
import subprocess
import sys
import uuid

import pytest

from rpc_test_support import PACKAGE_ROOT, bridge_children, client_threads, eventually, processes_with
from sandbox_rpc import AsyncSandbox, Sandbox, SandboxException


def marker_command() -> str:
    # A unique sleep duration marks the process, so the test can look for it in /proc.
    return f"sleep 1000.{uuid.uuid4().int % 10**9}"


def test_each_sandbox_has_its_own_bridge_process(bridge_path: str) -> None:
    with Sandbox() as a, Sandbox() as b:
        assert a.bridge_pid != b.bridge_pid
        assert sorted(bridge_children()) == sorted([a.bridge_pid, b.bridge_pid])
        assert a.sandbox_id and b.sandbox_id


def test_kill_ends_bridge_threads_and_processes(bridge_path: str) -> None:
    sandbox = Sandbox()
    cmd = marker_command()
    handle = sandbox.commands.run(cmd, background=True, on_stdout=lambda _: None)
    assert handle.pid
    eventually(lambda: processes_with(cmd))
    assert client_threads()
    assert sandbox.kill() is True
    # kill() returns after the bridge is reaped and the client's threads are joined
    assert client_threads() == [] and bridge_children() == []
    assert not os.path.exists(f"/proc/{sandbox.bridge_pid}") or _is_zombie_free(sandbox.bridge_pid)
    assert eventually(lambda: not processes_with(cmd))
    assert sandbox.kill() is False
    with pytest.raises(SandboxException):
        sandbox.commands.run("true")


def _is_zombie_free(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def test_context_manager_kills(bridge_path: str) -> None:
    cmd = marker_command()
    with Sandbox.create() as sandbox:
        sandbox.commands.run(cmd, background=True)
        eventually(lambda: processes_with(cmd))
    assert client_threads() == [] and bridge_children() == []
    assert eventually(lambda: not processes_with(cmd))


def test_garbage_collection_ends_everything(bridge_path: str) -> None:
    cmd = marker_command()
    sandbox = Sandbox()
    sandbox.commands.run(cmd, background=True, on_stdout=lambda _: None)
    eventually(lambda: processes_with(cmd))
    bridge = sandbox.bridge_pid
    del sandbox
    gc.collect()
    eventually(lambda: not client_threads() and not bridge_children() and not processes_with(cmd), timeout=15)
    assert _is_zombie_free(bridge)


def test_dropped_handle_does_not_keep_threads(bridge_path: str) -> None:
    with Sandbox() as sandbox:
        for _ in range(3):
            sandbox.commands.run("echo x", background=True).wait()
        sandbox.commands.run("echo y", on_stdout=lambda _: None)
    assert client_threads() == []


def test_bridge_crash_fails_pending_calls(bridge_path: str) -> None:
    sandbox = Sandbox()
    cmd = marker_command()
    handle = sandbox.commands.run(cmd, background=True)
    eventually(lambda: processes_with(cmd))
    os.kill(sandbox.bridge_pid, 9)
    with pytest.raises(SandboxException) as info:
        handle.wait()
    assert "exited unexpectedly" in str(info.value)
    with pytest.raises(SandboxException):
        sandbox.commands.run("true")
    assert sandbox.kill() is False
    assert client_threads() == []
    eventually(lambda: not processes_with(cmd))  # nothing the bridge started survives it


async def test_async_kill_and_gc(bridge_path: str) -> None:
    cmd = marker_command()
    sandbox = await AsyncSandbox.create()
    await sandbox.commands.run(cmd, background=True)
    eventually(lambda: processes_with(cmd))
    assert await sandbox.kill() is True
    assert client_threads() == [] and bridge_children() == []
    eventually(lambda: not processes_with(cmd))

    other = await AsyncSandbox.create()
    await other.commands.run("true")
    del other
    gc.collect()
    for _ in range(750):
        if not client_threads() and not bridge_children():
            break
        await asyncio.sleep(0.02)
    assert client_threads() == [] and bridge_children() == []


@pytest.mark.parametrize("ending", ["return", "sys.exit(3)", "os._exit(4)"])
def test_interpreter_exit_without_kill_leaves_nothing(bridge_path: str, ending: str) -> None:
    cmd = marker_command()
    script = f"""
import os, sys
from sandbox_rpc import Sandbox
sandbox = Sandbox()
handle = sandbox.commands.run({cmd!r}, background=True, on_stdout=print)
print(sandbox.bridge_pid, flush=True)
def main():
    {ending}
main()
"""
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT)),
        stdout=subprocess.PIPE,
        timeout=60,
        text=True,
    )
    assert proc.returncode == {"return": 0, "sys.exit(3)": 3, "os._exit(4)": 4}[ending]
    bridge = int(proc.stdout.split()[0])
    eventually(lambda: not processes_with(cmd) and not os.path.exists(f"/proc/{bridge}/cmdline"), timeout=15)
