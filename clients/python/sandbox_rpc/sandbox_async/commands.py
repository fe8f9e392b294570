"""`sandbox.commands` for the async client."""

import asyncio
import base64
from typing import Any, Dict, List, Literal, Mapping, Optional, Union, overload

from .._bridge import Bridge
from .._common import raise_for_exit_code, run_params, stdin_params, timeout_with_output
from ..exceptions import NotFoundException, SandboxException, TimeoutException
from ..models import CommandExitException, CommandResult, ProcessInfo, Stderr, Stdout, command_result, process_info
from .command_handle import AsyncCommandHandle, EventFeed, OutputHandler


class AsyncCommands:
    """Runs commands in the sandbox (E2B's `AsyncSandbox.commands`)."""

    def __init__(self, bridge: Bridge, sandbox_id: str, owner: Any, request_timeout: Optional[float]) -> None:
        self._bridge = bridge
        self._sandbox_id = sandbox_id
        self._owner = owner
        self._request_timeout = request_timeout

    def _timeout(self, request_timeout: Optional[float]) -> Optional[float]:
        return request_timeout if request_timeout is not None else self._request_timeout

    async def list(self, request_timeout: Optional[float] = None) -> List[ProcessInfo]:
        result = await self._bridge.acall(
            "commands.list", {"sandboxId": self._sandbox_id}, timeout=self._timeout(request_timeout)
        )
        return [process_info(p) for p in result.get("processes", [])]

    async def kill(self, pid: int, request_timeout: Optional[float] = None) -> bool:
        """True if the command was killed, False if it had ended or never existed."""
        try:
            result = await self._bridge.acall(
                "commands.kill", {"sandboxId": self._sandbox_id, "pid": pid}, timeout=self._timeout(request_timeout)
            )
        except NotFoundException:
            return False
        return bool(result.get("killed"))

    async def send_stdin(self, pid: int, data: Union[str, bytes], request_timeout: Optional[float] = None) -> None:
        await self._bridge.acall(
            "commands.sendStdin", stdin_params(self._sandbox_id, pid, data), timeout=self._timeout(request_timeout)
        )

    async def close_stdin(self, pid: int, request_timeout: Optional[float] = None) -> None:
        await self._bridge.acall(
            "commands.closeStdin", {"sandboxId": self._sandbox_id, "pid": pid}, timeout=self._timeout(request_timeout)
        )

    @overload
    async def run(
        self,
        cmd: str,
        background: Union[Literal[False], None] = None,
        envs: Optional[Dict[str, str]] = None,
        user: Optional[str] = None,
        cwd: Optional[str] = None,
        on_stdout: Optional[OutputHandler[Stdout]] = None,
        on_stderr: Optional[OutputHandler[Stderr]] = None,
        stdin: Optional[bool] = None,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
    ) -> CommandResult: ...

    @overload
    async def run(
        self,
        cmd: str,
        background: Literal[True],
        envs: Optional[Dict[str, str]] = None,
        user: Optional[str] = None,
        cwd: Optional[str] = None,
        on_stdout: Optional[OutputHandler[Stdout]] = None,
        on_stderr: Optional[OutputHandler[Stderr]] = None,
        stdin: Optional[bool] = None,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
    ) -> AsyncCommandHandle: ...

    async def run(
        self,
        cmd: str,
        background: Optional[bool] = None,
        envs: Optional[Dict[str, str]] = None,
        user: Optional[str] = None,
        cwd: Optional[str] = None,
        on_stdout: Optional[OutputHandler[Stdout]] = None,
        on_stderr: Optional[OutputHandler[Stderr]] = None,
        stdin: Optional[bool] = None,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
    ) -> Union[CommandResult, AsyncCommandHandle]:
        """Like `Sandbox.commands.run`; callbacks may be coroutine functions."""
        if background:
            return await self._start(cmd, envs, user, cwd, on_stdout, on_stderr, stdin, timeout, request_timeout)
        if on_stdout is None and on_stderr is None:
            params = run_params(
                self._sandbox_id, cmd, background=False, envs=envs, user=user, cwd=cwd,
                stdin=bool(stdin), timeout=timeout, stream=False,
            )
            try:
                result = await self._bridge.acall("commands.run", params)
            except TimeoutException as e:
                raise timeout_with_output(e) from None
            return raise_for_exit_code(command_result(result))
        handle = await self._start(cmd, envs, user, cwd, on_stdout, on_stderr, bool(stdin), timeout, request_timeout)
        return await self._wait_foreground(handle)

    async def run_stream(
        self,
        cmd: str,
        on_stdout: Optional[OutputHandler[Stdout]] = None,
        on_stderr: Optional[OutputHandler[Stderr]] = None,
        envs: Optional[Dict[str, str]] = None,
        user: Optional[str] = None,
        cwd: Optional[str] = None,
        timeout: Optional[float] = 60,
    ) -> CommandResult:
        """Runs `cmd`, calling back with each chunk as it arrives; returns the result whatever
        the exit code."""
        handle = await self._start(cmd, envs, user, cwd, on_stdout, on_stderr, False, timeout, None)
        try:
            return await self._wait_foreground(handle)
        except CommandExitException as e:
            return CommandResult(stdout=e.stdout, stderr=e.stderr, exit_code=e.exit_code, error=e.error)

    async def _wait_foreground(self, handle: AsyncCommandHandle) -> CommandResult:
        try:
            return await handle.wait()
        except BaseException:
            if handle.exit_code is None:  # cancelled or a callback raised: it was ours to run
                try:
                    await asyncio.shield(handle.kill())
                except (SandboxException, asyncio.CancelledError):
                    pass
            raise

    async def _start(
        self,
        cmd: str,
        envs: Optional[Dict[str, str]],
        user: Optional[str],
        cwd: Optional[str],
        on_stdout: Optional[OutputHandler[Stdout]],
        on_stderr: Optional[OutputHandler[Stderr]],
        stdin: Optional[bool],
        timeout: Optional[float],
        request_timeout: Optional[float],
    ) -> AsyncCommandHandle:
        params = run_params(
            self._sandbox_id, cmd, background=True, envs=envs, user=user, cwd=cwd,
            stdin=True if stdin is None else stdin, timeout=timeout, stream=True,
        )
        feed = await self._subscribed_call("commands.run", params, request_timeout)
        return AsyncCommandHandle(
            feed.pid, self, feed, on_stdout=on_stdout, on_stderr=on_stderr, implicit_stdin=stdin is None
        )

    async def _subscribed_call(
        self, method: str, params: Mapping[str, Any], request_timeout: Optional[float], initial: str = ""
    ) -> "_PidFeed":
        """Sends a request answered with a pid and subscribes to that pid on the reader thread,
        before any of its notifications can be read."""
        loop = asyncio.get_running_loop()
        sandbox_id = self._sandbox_id
        bridge = self._bridge

        def subscribe(result: Mapping[str, Any]) -> _PidFeed:
            feed = _PidFeed(loop, int(result.get("pid", params.get("pid", -1))))
            bridge.subscribe(sandbox_id, feed.pid, feed)
            if initial == "output":
                for stream in ("stdout", "stderr"):
                    if result.get(stream):
                        feed.on_output(stream, result[stream], None)
            elif initial == "pty" and result.get("stdout"):
                feed.on_pty(str(result["stdout"]).encode())
            return feed

        _, feed = await self._bridge.acall(method, params, timeout=self._timeout(request_timeout), hook=subscribe)
        assert isinstance(feed, _PidFeed)
        return feed

    async def connect(
        self,
        pid: int,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
        on_stdout: Optional[OutputHandler[Stdout]] = None,
        on_stderr: Optional[OutputHandler[Stderr]] = None,
    ) -> AsyncCommandHandle:
        """A handle to a running command; what it printed so far comes first. Unknown pid:
        `NotFoundException`."""
        feed = await self._subscribed_call(
            "commands.connect", {"sandboxId": self._sandbox_id, "pid": pid}, request_timeout, initial="output"
        )
        return AsyncCommandHandle(feed.pid, self, feed, on_stdout=on_stdout, on_stderr=on_stderr, timeout=timeout)

    async def _detach(self, pid: int, feed: EventFeed) -> None:
        if self._bridge.unsubscribe(self._sandbox_id, pid, feed) == 0:
            try:
                await self._bridge.acall(
                    "commands.disconnect", {"sandboxId": self._sandbox_id, "pid": pid}, timeout=self._request_timeout
                )
            except SandboxException:
                pass

    async def _pty_input(self, pid: int, data: bytes) -> None:
        await self._bridge.acall(
            "pty.sendInput",
            {"sandboxId": self._sandbox_id, "pid": pid, "data": base64.b64encode(data).decode("ascii")},
            timeout=self._request_timeout,
        )


class _PidFeed(EventFeed):
    def __init__(self, loop: asyncio.AbstractEventLoop, pid: int) -> None:
        super().__init__(loop)
        self.pid = pid
