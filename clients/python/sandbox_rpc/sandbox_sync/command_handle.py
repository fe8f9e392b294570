"""The sync command handle and the per-process state behind it."""

import threading
import time
from collections import deque
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Deque,
    Generator,
    List,
    Mapping,
    Optional,
    Tuple,
    Union,
)

from .._bridge import Bridge, logger
from .._common import (
    Utf8Joiner,
    exit_failure,
    raise_for_exit_code,
    result_from_exit,
)
from ..exceptions import EXECUTION_TIMEOUT_MESSAGE, SandboxException, TimeoutException
from ..models import CommandResult, PtyOutput, Stderr, Stdout

if TYPE_CHECKING:
    from .commands import Commands

OutputEvent = Union[
    Tuple[Stdout, None, None],
    Tuple[None, Stderr, None],
    Tuple[None, None, PtyOutput],
]


class _Expired(Exception):
    pass


class ProcessState:
    """What the bridge routes one pid's notifications to (for the sync client).

    It lives in the bridge's routing table, so it holds neither the handle nor the sandbox.
    Notifications are handed to the bridge's dispatcher thread, which updates the state, calls
    the live callbacks given to `run()`, and queues everything else for iteration and `wait()`:
    each chunk is delivered exactly once.
    """

    def __init__(
        self,
        bridge: Bridge,
        on_stdout: Optional[Callable[[Stdout], Any]] = None,
        on_stderr: Optional[Callable[[Stderr], Any]] = None,
        on_pty: Optional[Callable[[bytes], Any]] = None,
    ) -> None:
        self._bridge = bridge
        self._cond = threading.Condition()
        self._stdout: List[str] = []
        self._stderr: List[str] = []
        self._undelivered: Deque[OutputEvent] = deque()
        self._live = {"stdout": on_stdout, "stderr": on_stderr, "pty": on_pty}
        self._joiner = Utf8Joiner()
        self.exit: Optional[Mapping[str, Any]] = None
        self.failure: Optional[SandboxException] = None
        self.callback_error: Optional[BaseException] = None
        self.done = False
        self.detached = False

    # Subscriber interface: called on the reader thread.
    def on_output(self, stream: str, data: str, timestamp: Optional[float]) -> None:
        self._bridge.dispatch(self._output, stream, data, timestamp)

    def on_pty(self, data: bytes) -> None:
        self._bridge.dispatch(self._pty, data)

    def on_exit(self, params: Mapping[str, Any]) -> None:
        self._bridge.dispatch(self._finish, params, None)

    def on_close(self, error: SandboxException) -> None:
        self._bridge.dispatch(self._finish, None, error)

    # On the dispatcher thread.
    def _output(self, stream: str, data: str, timestamp: Optional[float]) -> None:
        if not data:
            return
        if stream == "stderr":
            self._deliver("stderr", (None, Stderr(data, timestamp), None))
        else:
            self._deliver("stdout", (Stdout(data, timestamp), None, None))

    def _pty(self, data: bytes) -> None:
        chunk = self._joiner.feed(data)
        if chunk:
            self._deliver("pty", (None, None, chunk))

    def _deliver(self, stream: str, event: OutputEvent) -> None:
        with self._cond:
            if self.done or self.detached:
                return
            if stream == "stdout":
                self._stdout.append(str(event[0]))
            elif stream == "stderr":
                self._stderr.append(str(event[1]))
            callback = self._live[stream]
            if callback is None:
                self._undelivered.append(event)
                self._cond.notify_all()
        if callback is not None:
            self._call(callback, event[0] if stream == "stdout" else event[1] if stream == "stderr" else event[2])

    def _call(self, callback: Callable[[Any], Any], chunk: Any) -> None:
        try:
            callback(chunk)
        except Exception as e:
            logger.debug("sandbox-rpc: output callback raised %r", e)
            with self._cond:
                if self.callback_error is None:
                    self.callback_error = e

    def _finish(self, exit_params: Optional[Mapping[str, Any]], error: Optional[SandboxException]) -> None:
        if self.done:
            return
        tail = self._joiner.flush()
        if tail:
            self._deliver("pty", (None, None, tail))
        with self._cond:
            self.exit = exit_params
            self.failure = error
            self.done = True
            self._cond.notify_all()

    # On the caller's threads.
    def add_initial(self, stdout: str, stderr: str) -> None:
        """Output kept by the bridge before we subscribed (from `commands.connect`)."""
        if stdout:
            self.on_output("stdout", stdout, None)
        if stderr:
            self.on_output("stderr", stderr, None)

    def detach(self, error: SandboxException) -> None:
        with self._cond:
            self.detached = True
            if not self.done:
                self.failure = error
                self.done = True
            self._cond.notify_all()

    def next_event(self, deadline: Optional[float]) -> Optional[OutputEvent]:
        """The next undelivered chunk, or None once the process has ended and all was delivered."""
        with self._cond:
            while not self._undelivered and not self.done:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise _Expired()
                self._cond.wait(remaining)
            if self._undelivered:
                return self._undelivered.popleft()
            return None

    @property
    def stdout(self) -> str:
        with self._cond:
            if len(self._stdout) > 1:
                self._stdout[:] = ["".join(self._stdout)]
            return self._stdout[0] if self._stdout else ""

    @property
    def stderr(self) -> str:
        with self._cond:
            if len(self._stderr) > 1:
                self._stderr[:] = ["".join(self._stderr)]
            return self._stderr[0] if self._stderr else ""

    def end_error(self) -> Optional[SandboxException]:
        """Why the events ended other than by a normal exit, if they did."""
        if self.failure is not None:
            return self.failure
        if self.exit is not None:
            return exit_failure(self.exit)
        return None

    def result(self) -> CommandResult:
        assert self.exit is not None
        return result_from_exit(self.exit, self.stdout, self.stderr)


class CommandHandle:
    """A running command (or PTY): iterate it, wait for it, feed it, kill it.

    `stdout`, `stderr` and `exit_code` update live. Callbacks given to `run()` are called from a
    background thread as output arrives; iteration and `wait()` hand out the rest, each chunk once.
    """

    def __init__(
        self,
        pid: int,
        commands: "Commands",
        state: ProcessState,
        *,
        implicit_stdin: bool = False,
        deadline: Optional[float] = None,
        is_pty: bool = False,
    ) -> None:
        self._pid = pid
        self._commands = commands
        self._state = state
        self._implicit_stdin = implicit_stdin
        self._deadline = deadline
        self._is_pty = is_pty

    @property
    def pid(self) -> int:
        """The command's process id (the sandbox's own)."""
        return self._pid

    @property
    def stdout(self) -> str:
        """All stdout so far."""
        return self._state.stdout

    @property
    def stderr(self) -> str:
        """All stderr so far."""
        return self._state.stderr

    @property
    def exit_code(self) -> Optional[int]:
        """The exit code, None while the command runs."""
        exit_params = self._state.exit
        if exit_params is None:
            return None
        code = exit_params.get("exitCode")
        return int(code) if code is not None else None

    @property
    def error(self) -> Optional[str]:
        if self._state.exit is None:
            return None
        return self._state.result().error

    def __iter__(self) -> Generator[OutputEvent, None, None]:
        """Yields `(stdout, stderr, pty)` tuples with exactly one item set, as output arrives and
        was not handed out yet; ends when the command exits. Raises `TimeoutException` when the
        command's timeout killed it or the sandbox was killed."""
        while True:
            try:
                event = self._state.next_event(self._deadline)
            except _Expired:
                self.disconnect()
                raise TimeoutException(EXECUTION_TIMEOUT_MESSAGE) from None
            if event is None:
                break
            yield event
        error = self._state.end_error()
        if error is not None:
            raise error

    def wait(
        self,
        on_pty: Optional[Callable[[PtyOutput], Any]] = None,
        on_stdout: Optional[Callable[[Stdout], Any]] = None,
        on_stderr: Optional[Callable[[Stderr], Any]] = None,
    ) -> CommandResult:
        """Waits for the command to end. The callbacks get the output not delivered yet.
        Returns the result; raises `CommandExitException` for a non-zero exit code."""
        if self._implicit_stdin:
            # Started without `stdin=` but fed with send_stdin: waiting is the end of input.
            self._implicit_stdin = False
            try:
                self._commands.close_stdin(self._pid)
            except SandboxException:
                pass
        for stdout, stderr, pty in self:
            if stdout is not None:
                if on_stdout:
                    on_stdout(stdout)
            elif stderr is not None:
                if on_stderr:
                    on_stderr(stderr)
            elif pty is not None and on_pty:
                on_pty(pty)
        if self._state.callback_error is not None:
            raise self._state.callback_error
        return raise_for_exit_code(self._state.result())

    def kill(self) -> bool:
        """Kills the command (SIGKILL to its process group). False when it had already ended."""
        return self._commands.kill(self._pid)

    def send_stdin(self, data: Union[str, bytes], request_timeout: Optional[float] = None) -> None:
        if self._is_pty:
            self._commands._pty_input(self._pid, data if isinstance(data, bytes) else data.encode())
        else:
            self._commands.send_stdin(self._pid, data, request_timeout=request_timeout)

    def close_stdin(self, request_timeout: Optional[float] = None) -> None:
        self._implicit_stdin = False
        self._commands.close_stdin(self._pid, request_timeout=request_timeout)

    def disconnect(self) -> None:
        """Stops receiving this command's output; it keeps running (see `commands.connect`)."""
        self._commands._detach(self._pid, self._state)
