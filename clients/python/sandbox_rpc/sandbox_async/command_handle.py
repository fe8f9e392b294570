"""The async command handle, fed from the bridge's reader thread through the event loop."""

import asyncio
import inspect
from collections import deque
from typing import (
    TYPE_CHECKING,
    Any,
    Awaitable,
    Callable,
    Deque,
    List,
    Mapping,
    Optional,
    Tuple,
    TypeVar,
    Union,
)

from .._bridge import logger
from .._common import Utf8Joiner, exit_failure, raise_for_exit_code, result_from_exit
from ..exceptions import EXECUTION_TIMEOUT_MESSAGE, SandboxException, TimeoutException
from ..models import CommandResult, PtyOutput, Stderr, Stdout

if TYPE_CHECKING:
    from .commands import AsyncCommands

T = TypeVar("T")
OutputHandler = Union[Callable[[T], None], Callable[[T], Awaitable[None]]]

_Event = Tuple[Any, ...]


class EventFeed:
    """What the bridge routes one pid's notifications to (for the async client): each event is
    posted to the loop with `call_soon_threadsafe`, in order, into a queue that the handle's
    task drains. Holds neither the handle nor the sandbox."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._events: Deque[_Event] = deque()
        self._waiter: Optional["asyncio.Future[None]"] = None

    def _post(self, event: _Event) -> None:
        try:
            self._loop.call_soon_threadsafe(self.push, event)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            pass

    def on_output(self, stream: str, data: str, timestamp: Optional[float]) -> None:
        self._post(("output", stream, data, timestamp))

    def on_pty(self, data: bytes) -> None:
        self._post(("pty", data))

    def on_exit(self, params: Mapping[str, Any]) -> None:
        self._post(("exit", params))

    def on_close(self, error: SandboxException) -> None:
        self._post(("close", error))

    def push(self, event: _Event) -> None:
        """On the loop."""
        self._events.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> _Event:
        while not self._events:
            self._waiter = self._loop.create_future()
            await self._waiter
        return self._events.popleft()


class AsyncCommandHandle:
    """A running command (or PTY) in an `AsyncSandbox`.

    Consumes its events from creation: `stdout`/`stderr` are updated before each callback runs
    (callbacks may be plain or coroutine functions), `exit_code` is None until the exit.
    """

    def __init__(
        self,
        pid: int,
        commands: "AsyncCommands",
        feed: EventFeed,
        *,
        on_stdout: Optional[OutputHandler[Stdout]] = None,
        on_stderr: Optional[OutputHandler[Stderr]] = None,
        on_pty: Optional[OutputHandler[PtyOutput]] = None,
        implicit_stdin: bool = False,
        timeout: Optional[float] = None,
        is_pty: bool = False,
    ) -> None:
        self._pid = pid
        self._commands = commands
        self._feed = feed
        self._on_stdout = on_stdout
        self._on_stderr = on_stderr
        self._on_pty = on_pty
        self._implicit_stdin = implicit_stdin
        loop = asyncio.get_running_loop()
        # `timeout` (from connect) limits how long this handle listens, counted from now.
        self._deadline = loop.time() + timeout if timeout else None
        self._is_pty = is_pty
        self._stdout: List[str] = []
        self._stderr: List[str] = []
        self._joiner = Utf8Joiner()
        self._exit: Optional[Mapping[str, Any]] = None
        self._failure: Optional[SandboxException] = None
        self._callback_error: Optional[BaseException] = None
        self._wait_task = asyncio.ensure_future(self._consume())

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def stdout(self) -> str:
        if len(self._stdout) > 1:
            self._stdout[:] = ["".join(self._stdout)]
        return self._stdout[0] if self._stdout else ""

    @property
    def stderr(self) -> str:
        if len(self._stderr) > 1:
            self._stderr[:] = ["".join(self._stderr)]
        return self._stderr[0] if self._stderr else ""

    @property
    def exit_code(self) -> Optional[int]:
        if self._exit is None:
            return None
        code = self._exit.get("exitCode")
        return int(code) if code is not None else None

    @property
    def error(self) -> Optional[str]:
        if self._exit is None:
            return None
        return result_from_exit(self._exit, "", "").error

    async def _consume(self) -> None:
        while True:
            event = await self._feed.get()
            kind = event[0]
            if kind == "output":
                _, stream, data, timestamp = event
                if not data:
                    continue
                if stream == "stderr":
                    chunk: Any = Stderr(data, timestamp)
                    self._stderr.append(data)
                    await self._call(self._on_stderr, chunk)
                else:
                    chunk = Stdout(data, timestamp)
                    self._stdout.append(data)
                    await self._call(self._on_stdout, chunk)
            elif kind == "pty":
                data = self._joiner.feed(event[1])
                if data:
                    await self._call(self._on_pty, data)
            else:
                tail = self._joiner.flush()
                if tail:
                    await self._call(self._on_pty, tail)
                if kind == "exit":
                    self._exit = event[1]
                else:
                    self._failure = event[1]
                return

    async def _call(self, callback: Optional[Callable[[Any], Any]], chunk: Any) -> None:
        if callback is None:
            return
        try:
            result = callback(chunk)
            if inspect.isawaitable(result):
                await result
        except Exception as e:
            logger.debug("sandbox-rpc: output callback raised %r", e)
            if self._callback_error is None:
                self._callback_error = e

    async def wait(self) -> CommandResult:
        """Waits for the command to end; returns its result, raises `CommandExitException` for
        a non-zero exit code and `TimeoutException` when its timeout or the sandbox's end killed it."""
        if self._implicit_stdin:
            self._implicit_stdin = False
            try:
                await self._commands.close_stdin(self._pid)
            except SandboxException:
                pass
        try:
            if self._deadline is not None:
                remaining = max(0.0, self._deadline - asyncio.get_running_loop().time())
                await asyncio.wait_for(asyncio.shield(self._wait_task), remaining)
            else:
                await asyncio.shield(self._wait_task)
        except asyncio.TimeoutError:
            await self.disconnect()
            raise TimeoutException(EXECUTION_TIMEOUT_MESSAGE) from None
        if self._failure is not None:
            raise self._failure
        assert self._exit is not None
        failure = exit_failure(self._exit)
        if failure is not None:
            raise failure
        if self._callback_error is not None:
            raise self._callback_error
        return raise_for_exit_code(result_from_exit(self._exit, self.stdout, self.stderr))

    async def kill(self) -> bool:
        """Kills the command (SIGKILL to its process group). False when it had already ended."""
        return await self._commands.kill(self._pid)

    async def send_stdin(self, data: Union[str, bytes]) -> None:
        if self._is_pty:
            await self._commands._pty_input(self._pid, data if isinstance(data, bytes) else data.encode())
        else:
            await self._commands.send_stdin(self._pid, data)

    async def close_stdin(self) -> None:
        self._implicit_stdin = False
        await self._commands.close_stdin(self._pid)

    async def disconnect(self) -> None:
        """Stops receiving this command's events; it keeps running."""
        if not self._wait_task.done():
            self._feed.push(("close", SandboxException("disconnected from the command: it keeps running; reconnect with commands.connect")))
        await self._commands._detach(self._pid, self._feed)
