"""`sandbox.commands` for the sync client."""

import base64
import time
from typing import Any, Callable, Dict, List, Literal, Mapping, Optional, Union, overload

from .._bridge import Bridge
from .._common import raise_for_exit_code, run_params, stdin_params, timeout_with_output
from ..exceptions import NotFoundException, SandboxException, TimeoutException
from ..models import CommandExitException, CommandResult, ProcessInfo, Stderr, Stdout, command_result, process_info
from .command_handle import CommandHandle, ProcessState


class Commands:
    """Runs commands in the sandbox (E2B's `sandbox.commands`)."""

    def __init__(self, bridge: Bridge, sandbox_id: str, owner: Any, request_timeout: Optional[float]) -> None:
        self._bridge = bridge
        self._sandbox_id = sandbox_id
        self._owner = owner  # handles keep the sandbox (and so its bridge) alive
        self._request_timeout = request_timeout

    def _timeout(self, request_timeout: Optional[float]) -> Optional[float]:
        return request_timeout if request_timeout is not None else self._request_timeout

    def list(self, request_timeout: Optional[float] = None) -> List[ProcessInfo]:
        """Running commands and PTYs."""
        result = self._bridge.call(
            "commands.list", {"sandboxId": self._sandbox_id}, timeout=self._timeout(request_timeout)
        )
        return [process_info(p) for p in result.get("processes", [])]

    def kill(self, pid: int, request_timeout: Optional[float] = None) -> bool:
        """SIGKILLs the command's process group and returns once it is reaped.
        True if it was killed, False if it had ended or never existed."""
        try:
            result = self._bridge.call(
                "commands.kill", {"sandboxId": self._sandbox_id, "pid": pid}, timeout=self._timeout(request_timeout)
            )
        except NotFoundException:
            return False
        return bool(result.get("killed"))

    def send_stdin(self, pid: int, data: Union[str, bytes], request_timeout: Optional[float] = None) -> None:
        self._bridge.call("commands.sendStdin", stdin_params(self._sandbox_id, pid, data), timeout=self._timeout(request_timeout))

    def close_stdin(self, pid: int, request_timeout: Optional[float] = None) -> None:
        self._bridge.call(
            "commands.closeStdin", {"sandboxId": self._sandbox_id, "pid": pid}, timeout=self._timeout(request_timeout)
        )

    @overload
    def run(
        self,
        cmd: str,
        background: Union[Literal[False], None] = None,
        envs: Optional[Dict[str, str]] = None,
        user: Optional[str] = None,
        cwd: Optional[str] = None,
        on_stdout: Optional[Callable[[Stdout], Any]] = None,
        on_stderr: Optional[Callable[[Stderr], Any]] = None,
        stdin: Optional[bool] = None,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
    ) -> CommandResult: ...

    @overload
    def run(
        self,
        cmd: str,
        background: Literal[True],
        envs: Optional[Dict[str, str]] = None,
        user: Optional[str] = None,
        cwd: Optional[str] = None,
        on_stdout: Optional[Callable[[Stdout], Any]] = None,
        on_stderr: Optional[Callable[[Stderr], Any]] = None,
        stdin: Optional[bool] = None,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
    ) -> CommandHandle: ...

    def run(
        self,
        cmd: str,
        background: Optional[bool] = None,
        envs: Optional[Dict[str, str]] = None,
        user: Optional[str] = None,
        cwd: Optional[str] = None,
        on_stdout: Optional[Callable[[Stdout], Any]] = None,
        on_stderr: Optional[Callable[[Stderr], Any]] = None,
        stdin: Optional[bool] = None,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
    ) -> Union[CommandResult, CommandHandle]:
        """Runs `cmd` with bash.

        Foreground (default): returns the `CommandResult` once it exits, raising
        `CommandExitException` for a non-zero exit code and `TimeoutException` past `timeout`
        seconds (0 or None: no limit); `on_stdout`/`on_stderr` are called as output arrives.

        `background=True`: returns a `CommandHandle` at once; `timeout` still counts from the
        start. Callbacks are called live from a background thread. Without `stdin=`, the
        command's stdin is left open so `send_stdin` works, and `wait()` closes it.
        """
        if background:
            return self._start(cmd, envs, user, cwd, on_stdout, on_stderr, stdin, timeout, request_timeout)
        if on_stdout is None and on_stderr is None:
            params = run_params(
                self._sandbox_id, cmd, background=False, envs=envs, user=user, cwd=cwd,
                stdin=bool(stdin), timeout=timeout, stream=False,
            )
            try:
                result = self._bridge.call("commands.run", params)
            except TimeoutException as e:
                raise timeout_with_output(e) from None
            return raise_for_exit_code(command_result(result))
        # Live callbacks need the pid before the first chunk: start it in the background.
        handle = self._start(cmd, envs, user, cwd, None, None, bool(stdin), timeout, request_timeout)
        return self._wait_foreground(handle, on_stdout, on_stderr)

    def run_stream(
        self,
        cmd: str,
        on_stdout: Optional[Callable[[Stdout], Any]] = None,
        on_stderr: Optional[Callable[[Stderr], Any]] = None,
        envs: Optional[Dict[str, str]] = None,
        user: Optional[str] = None,
        cwd: Optional[str] = None,
        timeout: Optional[float] = 60,
    ) -> CommandResult:
        """Runs `cmd`, calling back with each chunk as it arrives (Declaw's `run_stream`).
        Returns the result whatever the exit code; raises `TimeoutException` past `timeout`."""
        handle = self._start(cmd, envs, user, cwd, None, None, False, timeout, None)
        try:
            return self._wait_foreground(handle, on_stdout, on_stderr)
        except CommandExitException as e:
            return CommandResult(stdout=e.stdout, stderr=e.stderr, exit_code=e.exit_code, error=e.error)

    def _wait_foreground(
        self,
        handle: CommandHandle,
        on_stdout: Optional[Callable[[Stdout], Any]],
        on_stderr: Optional[Callable[[Stderr], Any]],
    ) -> CommandResult:
        try:
            return handle.wait(on_stdout=on_stdout, on_stderr=on_stderr)
        except BaseException:
            if handle.exit_code is None:  # interrupted or a callback raised: it was ours to run
                try:
                    handle.kill()
                except SandboxException:
                    pass
            raise

    def _start(
        self,
        cmd: str,
        envs: Optional[Dict[str, str]],
        user: Optional[str],
        cwd: Optional[str],
        on_stdout: Optional[Callable[[Stdout], Any]],
        on_stderr: Optional[Callable[[Stderr], Any]],
        stdin: Optional[bool],
        timeout: Optional[float],
        request_timeout: Optional[float],
    ) -> CommandHandle:
        params = run_params(
            self._sandbox_id, cmd, background=True, envs=envs, user=user, cwd=cwd,
            stdin=True if stdin is None else stdin, timeout=timeout, stream=True,
        )
        sandbox_id = self._sandbox_id

        def subscribe(result: Mapping[str, Any]) -> ProcessState:
            state = ProcessState(self._bridge, on_stdout=on_stdout, on_stderr=on_stderr)
            self._bridge.subscribe(sandbox_id, int(result["pid"]), state)
            return state

        result, state = self._bridge.call("commands.run", params, timeout=self._timeout(request_timeout), hook=subscribe)
        return CommandHandle(int(result["pid"]), self, state, implicit_stdin=stdin is None)

    def connect(
        self,
        pid: int,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
    ) -> CommandHandle:
        """A handle to a running command: what it printed so far comes first, then live output.
        `timeout` limits how long iteration/`wait()` listen (0 or None: no limit); the
        command is not killed when it passes. Unknown pid: `NotFoundException`."""
        return self._connect(pid, timeout, request_timeout, is_pty=False)

    def _connect(self, pid: int, timeout: Optional[float], request_timeout: Optional[float], is_pty: bool) -> CommandHandle:
        sandbox_id = self._sandbox_id

        def subscribe(result: Mapping[str, Any]) -> ProcessState:
            state = ProcessState(self._bridge)
            self._bridge.subscribe(sandbox_id, int(result.get("pid", pid)), state)
            if is_pty:
                initial = (result.get("stdout") or "").encode()
                if initial:
                    state.on_pty(initial)
            else:
                state.add_initial(result.get("stdout") or "", result.get("stderr") or "")
            return state

        result, state = self._bridge.call(
            "commands.connect", {"sandboxId": sandbox_id, "pid": pid}, timeout=self._timeout(request_timeout), hook=subscribe
        )
        deadline = time.monotonic() + timeout if timeout else None
        return CommandHandle(int(result.get("pid", pid)), self, state, deadline=deadline, is_pty=is_pty)

    def _detach(self, pid: int, state: ProcessState) -> None:
        state.detach(SandboxException("disconnected from the command: it keeps running; reconnect with commands.connect"))
        if self._bridge.unsubscribe(self._sandbox_id, pid, state) == 0:
            try:
                self._bridge.call("commands.disconnect", {"sandboxId": self._sandbox_id, "pid": pid}, timeout=self._request_timeout)
            except SandboxException:
                pass  # it ended meanwhile, or the sandbox is gone: nothing left to stop

    def _pty_input(self, pid: int, data: bytes) -> None:
        self._bridge.call(
            "pty.sendInput",
            {"sandboxId": self._sandbox_id, "pid": pid, "data": base64.b64encode(data).decode("ascii")},
            timeout=self._request_timeout,
        )
