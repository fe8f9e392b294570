"""The async `AsyncSandbox`, on the same transport as the sync one."""

import weakref
from typing import Any, Dict, Mapping, Optional, Sequence, Type, TypeVar

from .._bridge import CLIENT_NAME, CLIENT_VERSION, Bridge
from .._common import DEFAULT_REQUEST_TIMEOUT, create_params, sandbox_info
from ..exceptions import SandboxException
from ..models import SandboxInfo
from .commands import AsyncCommands
from .filesystem import AsyncFilesystem
from .pty import AsyncPty

A = TypeVar("A", bound="AsyncSandbox")


class AsyncSandbox:
    """The asyncio twin of `Sandbox`: create it with `await AsyncSandbox.create(...)` (same
    options), use `async with`, `await sandbox.kill()`."""

    def __init__(self, bridge: Bridge, created: Mapping[str, Any], request_timeout: Optional[float]) -> None:
        self._bridge = bridge
        self._finalizer = weakref.finalize(self, bridge.abandon)
        self._sandbox_id: str = created["sandboxId"]
        self._home: Optional[str] = created.get("home")
        self._isolation: Optional[str] = created.get("isolation")
        self._request_timeout = request_timeout
        self.commands = AsyncCommands(bridge, self._sandbox_id, self, request_timeout)
        self.pty = AsyncPty(bridge, self._sandbox_id, self.commands, request_timeout)
        self.files = AsyncFilesystem(bridge, self._sandbox_id, request_timeout)

    @classmethod
    async def create(
        cls: Type[A],
        template: Optional[str] = None,
        timeout: Optional[float] = None,
        metadata: Optional[Dict[str, str]] = None,
        envs: Optional[Dict[str, str]] = None,
        secure: bool = True,
        allow_internet_access: Optional[bool] = None,
        *,
        isolation: Optional[str] = None,
        image: Optional[str] = None,
        cwd: Optional[str] = None,
        limits: Optional[Mapping[str, int]] = None,
        request_timeout: Optional[float] = DEFAULT_REQUEST_TIMEOUT,
        bridge_path: Optional[str] = None,
        bridge_args: Sequence[str] = (),
        **e2b_options: Any,
    ) -> A:
        """Starts a bridge and creates a sandbox in it (options as for `Sandbox`)."""
        bridge = Bridge(bridge_path, bridge_args)
        try:
            info = await bridge.acall(
                "initialize", {"clientInfo": {"name": CLIENT_NAME, "version": CLIENT_VERSION}}, timeout=request_timeout
            )
            bridge.initialize(info)
            created = await bridge.acall(
                "sandbox.create",
                create_params(
                    timeout=timeout, metadata=metadata, envs=envs, allow_internet_access=allow_internet_access,
                    isolation=isolation, cwd=cwd, limits=limits, image=image, template=template,
                ),
                timeout=request_timeout,
            )
        except BaseException:
            await bridge.aclose(None)
            raise
        return cls(bridge, created, request_timeout)

    @property
    def sandbox_id(self) -> str:
        return self._sandbox_id

    @property
    def home(self) -> Optional[str]:
        return self._home

    @property
    def isolation(self) -> Optional[str]:
        return self._isolation

    @property
    def capabilities(self) -> Dict[str, Any]:
        return dict(self._bridge.capabilities)

    @property
    def bridge_pid(self) -> int:
        return self._bridge.pid

    async def kill(self, request_timeout: Optional[float] = None) -> bool:
        """Kills the sandbox and everything in it, and ends the bridge. False the second time."""
        self._finalizer.detach()
        return await self._bridge.aclose(self._sandbox_id)

    close = kill

    async def is_running(self, request_timeout: Optional[float] = None) -> bool:
        if self._bridge.closed:
            return False
        try:
            result = await self._bridge.acall("sandbox.list", {}, timeout=request_timeout or self._request_timeout)
        except SandboxException:
            return False
        return any(s.get("sandboxId") == self._sandbox_id for s in result.get("sandboxes", []))

    async def get_info(self, request_timeout: Optional[float] = None) -> SandboxInfo:
        result = await self._bridge.acall("sandbox.list", {}, timeout=request_timeout or self._request_timeout)
        return sandbox_info(self._sandbox_id, result)

    async def set_timeout(self, timeout: float, request_timeout: Optional[float] = None) -> None:
        await self._bridge.acall(
            "sandbox.setTimeout", {"sandboxId": self._sandbox_id, "timeout": timeout},
            timeout=request_timeout or self._request_timeout,
        )

    def get_host(self, port: int) -> str:
        """"host:port" for a server on `port` in the sandbox. A plain (blocking) method, as in
        E2B; it asks the bridge, which answers at once."""
        result = self._bridge.call(
            "sandbox.getHost", {"sandboxId": self._sandbox_id, "port": port}, timeout=self._request_timeout
        )
        return str(result["host"])

    async def __aenter__(self: A) -> A:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.kill()

    def __repr__(self) -> str:
        return f"AsyncSandbox(sandbox_id={self._sandbox_id!r}, isolation={self._isolation!r})"
