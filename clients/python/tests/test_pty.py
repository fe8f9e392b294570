"""sandbox.pty against the real bridge (skipped when it lacks the pty capability)."""

import asyncio
import time
from typing import List

import pytest

from rpc_test_support import eventually
from sandbox_rpc import AsyncSandbox, CommandHandle, PtySize, Sandbox

pytestmark = pytest.mark.usefixtures("requires_pty")


def collect(handle: CommandHandle, until: bytes, timeout: float = 15) -> bytes:
    """Reads PTY output until `until` appears."""
    out = b""
    deadline = time.monotonic() + timeout
    for stdout, stderr, pty in handle:
        assert stdout is None and stderr is None and isinstance(pty, bytes)
        out += pty
        if until in out or time.monotonic() > deadline:
            break
    return out


def test_pty_is_an_interactive_login_bash_with_size_and_terminal_env(sandbox: Sandbox) -> None:
    handle = sandbox.pty.create(PtySize(rows=24, cols=80))
    sandbox.pty.send_stdin(handle.pid, b"echo T=$TERM L=$LANG A=$LC_ALL I=$- S=$(stty size) END-$((6*7))\n")
    out = collect(handle, b"END-42")
    assert b"T=xterm-256color L=C.UTF-8 A=C.UTF-8" in out
    assert b"S=24 80 END-42" in out
    line = out.split(b"I=")[-1].split(b" ")[0]
    assert b"i" in line  # interactive
    sandbox.pty.send_stdin(handle.pid, b"shopt -q login_shell && echo LOGIN-$((1+1))\n")
    assert b"LOGIN-2" in collect(handle, b"LOGIN-2")
    sandbox.pty.send_stdin(handle.pid, b"exit\n")
    result = handle.wait()
    assert result.exit_code == 0


def test_pty_resize(sandbox: Sandbox) -> None:
    handle = sandbox.pty.create(PtySize(rows=10, cols=40))
    sandbox.pty.resize(handle.pid, PtySize(rows=50, cols=132))
    sandbox.pty.send_stdin(handle.pid, b"echo S=$(stty size) END-$((6*7))\n")
    assert b"S=50 132 END-42" in collect(handle, b"END-42")
    assert sandbox.pty.kill(handle.pid) is True


def test_pty_output_never_splits_a_character(sandbox: Sandbox) -> None:
    handle = sandbox.pty.create(PtySize(rows=24, cols=80))
    chunks: List[bytes] = []
    sandbox.pty.send_stdin(handle.pid, b"for i in $(seq 3000); do printf '\\xc3\\xa9\\xe2\\x82\\xac'; done; echo; echo DONE-$((6*7))\n")
    for _, _, pty in handle:
        assert pty is not None
        chunks.append(pty)
        if b"DONE-42" in b"".join(chunks[-3:]):
            break
    for chunk in chunks:
        chunk.decode("utf-8")  # strict: no chunk ends or starts inside a character
    assert "\u00e9\u20ac" * 3000 in b"".join(chunks).decode()
    sandbox.pty.kill(handle.pid)


def test_pty_kill_unknown_and_list(sandbox: Sandbox) -> None:
    assert sandbox.pty.kill(999999) is False
    handle = sandbox.pty.create(PtySize(rows=24, cols=80))
    assert [(p.pid, p.is_pty) for p in sandbox.commands.list()] == [(handle.pid, True)]
    assert sandbox.pty.kill(handle.pid) is True
    assert eventually(lambda: handle.exit_code) is not None


def test_pty_connect(sandbox: Sandbox) -> None:
    handle = sandbox.pty.create(PtySize(rows=24, cols=80))
    handle.disconnect()
    again = sandbox.pty.connect(handle.pid)
    sandbox.pty.send_stdin(handle.pid, b"echo AGAIN-$((40+2))\n")
    assert b"AGAIN-42" in collect(again, b"AGAIN-42")
    sandbox.pty.send_stdin(handle.pid, b"exit\n")
    assert again.wait().exit_code == 0


async def test_async_pty(bridge_path: str) -> None:
    async with await AsyncSandbox.create() as sandbox:
        data: List[bytes] = []

        async def on_data(chunk: bytes) -> None:
            data.append(chunk)

        handle = await sandbox.pty.create(PtySize(rows=30, cols=100), on_data)
        await sandbox.pty.send_stdin(handle.pid, b"echo S=$(stty size) END-$((6*7))\n")
        for _ in range(750):
            if b"END-42" in b"".join(data):
                break
            await asyncio.sleep(0.02)
        assert b"S=30 100 END-42" in b"".join(data)
        await sandbox.pty.resize(handle.pid, PtySize(rows=31, cols=101))
        await sandbox.pty.send_stdin(handle.pid, b"exit\n")
        assert (await handle.wait()).exit_code == 0
        assert await sandbox.pty.kill(handle.pid) is False
