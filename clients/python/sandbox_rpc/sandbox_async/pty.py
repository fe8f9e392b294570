"""`sandbox.pty` for the async client."""

from typing import Dict, Optional

from .._bridge import Bridge
from .._common import pty_params
from ..models import PtyOutput, PtySize
from .command_handle import AsyncCommandHandle, OutputHandler
from .commands import AsyncCommands


class AsyncPty:
    """Pseudo-terminals: an interactive login bash whose output is `bytes`."""

    def __init__(self, bridge: Bridge, sandbox_id: str, commands: AsyncCommands, request_timeout: Optional[float]) -> None:
        self._bridge = bridge
        self._sandbox_id = sandbox_id
        self._commands = commands
        self._request_timeout = request_timeout

    async def create(
        self,
        size: PtySize,
        on_data: OutputHandler[PtyOutput],
        user: Optional[str] = None,
        cwd: Optional[str] = None,
        envs: Optional[Dict[str, str]] = None,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
    ) -> AsyncCommandHandle:
        """Starts a PTY of `size` (rows, cols); `on_data` gets its output as `bytes`."""
        self._bridge.require_capability("pty")
        feed = await self._commands._subscribed_call(
            "pty.create",
            pty_params(self._sandbox_id, size, user=user, cwd=cwd, envs=envs, timeout=timeout),
            request_timeout,
        )
        return AsyncCommandHandle(feed.pid, self._commands, feed, on_pty=on_data, is_pty=True)

    async def connect(
        self,
        pid: int,
        on_data: OutputHandler[PtyOutput],
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
    ) -> AsyncCommandHandle:
        self._bridge.require_capability("pty")
        feed = await self._commands._subscribed_call(
            "commands.connect", {"sandboxId": self._sandbox_id, "pid": pid}, request_timeout, initial="pty"
        )
        return AsyncCommandHandle(feed.pid, self._commands, feed, on_pty=on_data, timeout=timeout, is_pty=True)

    async def send_stdin(self, pid: int, data: bytes, request_timeout: Optional[float] = None) -> None:
        self._bridge.require_capability("pty")
        await self._commands._pty_input(pid, bytes(data))

    async def resize(self, pid: int, size: PtySize, request_timeout: Optional[float] = None) -> None:
        self._bridge.require_capability("pty")
        await self._bridge.acall(
            "pty.resize",
            {"sandboxId": self._sandbox_id, "pid": pid, "cols": size.cols, "rows": size.rows},
            timeout=request_timeout if request_timeout is not None else self._request_timeout,
        )

    async def kill(self, pid: int, request_timeout: Optional[float] = None) -> bool:
        return await self._commands.kill(pid, request_timeout=request_timeout)
