"""AsyncSandbox against the real bridge (async tests run through conftest's asyncio hook)."""

import asyncio
import time
from typing import List

import pytest

from sandbox_rpc import (
    AsyncCommandHandle,
    AsyncSandbox,
    CommandExitException,
    CommandResult,
    InvalidArgumentException,
    NotFoundException,
    Sandbox,
    SandboxException,
    Stdout,
    TimeoutException,
)

A8191_E2 = "python3 -c \"import sys; sys.stdout.buffer.write(b'a' * 8191 + b'\\xe2')\""


async def test_create_run_kill(bridge_path: str) -> None:
    sandbox = await AsyncSandbox.create(envs={"SB": "s"})
    try:
        result = await sandbox.commands.run("echo $SB-$C; echo e >&2", envs={"C": "c"})
        assert result == CommandResult(stdout="s-c\n", stderr="e\n", exit_code=0, error=None)
        assert (await sandbox.commands.run("echo ${C:-unset}")).stdout == "unset\n"
    finally:
        assert await sandbox.kill() is True
    assert await sandbox.kill() is False


async def test_context_manager_and_get_host_is_plain(bridge_path: str) -> None:
    async with await AsyncSandbox.create() as sandbox:
        assert sandbox.sandbox_id
        assert await sandbox.is_running() is True
        try:
            host = sandbox.get_host(8080)  # a plain method, as in E2B
        except SandboxException as e:
            if e.kind not in ("MethodNotFound", "Unsupported"):
                raise
        else:
            assert host.rsplit(":", 1)[1].isdigit()
    assert await sandbox.is_running() is False


async def test_nonzero_exit_and_timeout(bridge_path: str) -> None:
    async with await AsyncSandbox.create() as sandbox:
        with pytest.raises(CommandExitException) as info:
            await sandbox.commands.run("echo o; exit 5")
        assert (info.value.exit_code, info.value.stdout, info.value.error) == (5, "o\n", "exit status 5")
        started = time.monotonic()
        with pytest.raises(TimeoutException):
            await sandbox.commands.run("sleep 30", timeout=1)
        assert time.monotonic() - started < 15
        handle = await sandbox.commands.run("sleep 30", background=True, timeout=1)
        with pytest.raises(TimeoutException):
            await handle.wait()


async def test_invalid_utf8_replacement(bridge_path: str) -> None:
    expected = "a" * 8191 + "\ufffd"
    async with await AsyncSandbox.create() as sandbox:
        assert (await sandbox.commands.run(A8191_E2)).stdout == expected
        chunks: List[str] = []
        result = await sandbox.commands.run(A8191_E2, on_stdout=chunks.append)
        assert result.stdout == expected == "".join(chunks)
        assert all(chunks)


async def test_handle_consumes_from_creation_with_plain_and_coroutine_callbacks(bridge_path: str) -> None:
    async with await AsyncSandbox.create() as sandbox:
        seen: List[tuple] = []
        handle: AsyncCommandHandle

        async def on_stdout(data: Stdout) -> None:
            await asyncio.sleep(0)
            seen.append(("out", str(data), handle.stdout, handle.exit_code))

        def on_stderr(data: str) -> None:
            seen.append(("err", str(data), handle.stderr, handle.exit_code))

        handle = await sandbox.commands.run(
            "echo 1; sleep 0.2; echo 2 >&2", background=True, on_stdout=on_stdout, on_stderr=on_stderr
        )
        assert handle.exit_code is None
        for _ in range(500):
            if handle.exit_code is not None:
                break
            await asyncio.sleep(0.02)
        # stdout/stderr were updated before each callback; exit_code was None until the exit
        assert seen == [("out", "1\n", "1\n", None), ("err", "2\n", "2\n", None)]
        result = await handle.wait()
        assert (result.stdout, result.stderr, handle.exit_code) == ("1\n", "2\n", 0)


async def test_background_stdin_kill_list_connect(bridge_path: str) -> None:
    async with await AsyncSandbox.create() as sandbox:
        handle = await sandbox.commands.run("cat", background=True, stdin=True)
        await handle.send_stdin("abc\n")
        await sandbox.commands.send_stdin(handle.pid, b"\xc3\xa9\n")
        await handle.close_stdin()
        assert (await handle.wait()).stdout == "abc\n\u00e9\n"

        sleeper = await sandbox.commands.run("echo kept; sleep 100", background=True)
        assert [p.pid for p in await sandbox.commands.list()] == [sleeper.pid]
        for _ in range(500):
            if sleeper.stdout:
                break
            await asyncio.sleep(0.02)
        connected = await sandbox.commands.connect(sleeper.pid)
        for _ in range(500):
            if connected.stdout:
                break
            await asyncio.sleep(0.02)
        assert connected.stdout == "kept\n"
        assert await sandbox.commands.kill(sleeper.pid) is True
        assert await sandbox.commands.kill(sleeper.pid) is False
        assert await sandbox.commands.kill(999999) is False
        with pytest.raises(CommandExitException) as info:
            await connected.wait()
        assert (info.value.exit_code, info.value.stdout) == (137, "kept\n")
        with pytest.raises(NotFoundException):
            await sandbox.commands.connect(999999)


async def test_connect_timeout_stops_listening_not_the_process(bridge_path: str) -> None:
    async with await AsyncSandbox.create() as sandbox:
        handle = await sandbox.commands.run("sleep 100", background=True)
        connected = await sandbox.commands.connect(handle.pid, timeout=0.5)
        with pytest.raises(TimeoutException):
            await connected.wait()
        assert [p.pid for p in await sandbox.commands.list()] == [handle.pid]
        assert await handle.kill() is True


async def test_implicit_stdin_closed_by_wait(bridge_path: str) -> None:
    async with await AsyncSandbox.create() as sandbox:
        handle = await sandbox.commands.run("cat", background=True)
        await handle.send_stdin("x\n")
        assert (await handle.wait()).stdout == "x\n"


async def test_disconnect(bridge_path: str) -> None:
    async with await AsyncSandbox.create() as sandbox:
        handle = await sandbox.commands.run("sleep 0.2; echo hi; sleep 100", background=True)
        await handle.disconnect()
        with pytest.raises(SandboxException):
            await handle.wait()
        assert [p.pid for p in await sandbox.commands.list()] == [handle.pid]
        await asyncio.sleep(0.5)
        assert handle.stdout == ""
        again = await sandbox.commands.connect(handle.pid)
        assert await again.kill() is True
        with pytest.raises(CommandExitException) as info:
            await again.wait()
        assert info.value.stdout == "hi\n"


async def test_killed_sandbox_fails_handle_wait(bridge_path: str) -> None:
    sandbox = await AsyncSandbox.create()
    handle = await sandbox.commands.run("sleep 100", background=True)
    assert await sandbox.kill() is True
    with pytest.raises(TimeoutException) as info:
        await handle.wait()
    assert "killed or reached its end of life" in str(info.value)


async def test_run_stream(bridge_path: str) -> None:
    async with await AsyncSandbox.create() as sandbox:
        lines: List[str] = []
        result = await sandbox.commands.run_stream("for i in 1 2 3; do echo $i; sleep 0.3; done", on_stdout=lines.append)
        assert lines == ["1\n", "2\n", "3\n"] and result.exit_code == 0


async def test_concurrent_runs_on_one_sandbox(bridge_path: str) -> None:
    async with await AsyncSandbox.create() as sandbox:
        started = time.monotonic()
        results = await asyncio.gather(*(sandbox.commands.run(f"sleep 0.5; echo {i}") for i in range(6)))
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(6)]
        assert time.monotonic() - started < 2.9


async def test_cancelling_a_foreground_run_kills_it(bridge_path: str) -> None:
    async with await AsyncSandbox.create() as sandbox:
        task = asyncio.ensure_future(sandbox.commands.run("echo $$ > pid; sleep 100"))
        for _ in range(500):
            probe = await sandbox.commands.run("cat pid 2>/dev/null || true")
            if probe.stdout:
                break
            await asyncio.sleep(0.02)
        pid = int(probe.stdout)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(500):
            if (await sandbox.commands.run(f"kill -0 {pid} 2>/dev/null; echo $?")).stdout == "1\n":
                break
            await asyncio.sleep(0.02)
        assert (await sandbox.commands.run(f"kill -0 {pid} 2>/dev/null; echo $?")).stdout == "1\n"


async def test_invalid_params(bridge_path: str) -> None:
    async with await AsyncSandbox.create() as sandbox:
        with pytest.raises(InvalidArgumentException):
            await sandbox.commands.run("true", envs={"A=B": "1"})


async def test_sync_client_works_inside_a_running_event_loop(bridge_path: str) -> None:
    asyncio.get_running_loop()  # we are inside one
    with Sandbox() as sandbox:
        assert sandbox.commands.run("echo hi").stdout == "hi\n"
        handle = sandbox.commands.run("echo bg", background=True)
        assert handle.wait().stdout == "bg\n"
        chunks: List[str] = []
        sandbox.commands.run("echo cb", on_stdout=chunks.append)
        assert chunks == ["cb\n"]
