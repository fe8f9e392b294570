"""`sandbox.pty` for the sync client."""

from typing import Any, Dict, Mapping, Optional

from .._bridge import Bridge
from .._common import pty_params
from ..models import PtySize
from .command_handle import CommandHandle, ProcessState
from .commands import Commands


class Pty:
    """Pseudo-terminals: an interactive login bash whose output is `bytes` (E2B's `sandbox.pty`)."""

    def __init__(self, bridge: Bridge, sandbox_id: str, commands: Commands, request_timeout: Optional[float]) -> None:
        self._bridge = bridge
        self._sandbox_id = sandbox_id
        self._commands = commands
        self._request_timeout = request_timeout

    def create(
        self,
        size: PtySize,
        user: Optional[str] = None,
        cwd: Optional[str] = None,
        envs: Optional[Dict[str, str]] = None,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
    ) -> CommandHandle:
        """Starts a PTY of `size` (rows, cols). Iterating the handle yields `(None, None, bytes)`."""
        self._bridge.require_capability("pty")
        sandbox_id = self._sandbox_id

        def subscribe(result: Mapping[str, Any]) -> ProcessState:
            state = ProcessState(self._bridge)
            self._bridge.subscribe(sandbox_id, int(result["pid"]), state)
            return state

        result, state = self._bridge.call(
            "pty.create",
            pty_params(sandbox_id, size, user=user, cwd=cwd, envs=envs, timeout=timeout),
            timeout=request_timeout if request_timeout is not None else self._request_timeout,
            hook=subscribe,
        )
        return CommandHandle(int(result["pid"]), self._commands, state, is_pty=True)

    def connect(self, pid: int, timeout: Optional[float] = 60, request_timeout: Optional[float] = None) -> CommandHandle:
        self._bridge.require_capability("pty")
        return self._commands._connect(pid, timeout, request_timeout, is_pty=True)

    def send_stdin(self, pid: int, data: bytes, request_timeout: Optional[float] = None) -> None:
        self._bridge.require_capability("pty")
        self._commands._pty_input(pid, bytes(data))

    def resize(self, pid: int, size: PtySize, request_timeout: Optional[float] = None) -> None:
        self._bridge.require_capability("pty")
        self._bridge.call(
            "pty.resize",
            {"sandboxId": self._sandbox_id, "pid": pid, "cols": size.cols, "rows": size.rows},
            timeout=request_timeout if request_timeout is not None else self._request_timeout,
        )

    def kill(self, pid: int, request_timeout: Optional[float] = None) -> bool:
        """True if the PTY was killed, False if it had ended or never existed."""
        return self._commands.kill(pid, request_timeout=request_timeout)
