"""The sync `Sandbox`: one `sandbox-rpc` bridge process, one sandbox in it."""

import weakref
from typing import Any, Dict, Mapping, Optional, Sequence, Type, TypeVar

from .._bridge import CLIENT_NAME, CLIENT_VERSION, Bridge
from .._common import DEFAULT_REQUEST_TIMEOUT, create_params, sandbox_info
from ..exceptions import SandboxException
from ..models import SandboxInfo
from .commands import Commands
from .filesystem import Filesystem
from .pty import Pty

S = TypeVar("S", bound="Sandbox")


class Sandbox:
    """A sandbox on this machine, driven through its own `sandbox-rpc` process.

    `Sandbox()` and `Sandbox.create()` take the same options. `timeout` is the sandbox's
    lifetime in seconds (None: until `kill()`); `envs` reach every command; `metadata` is kept
    with it. Options for E2B's cloud (`api_key`, `domain`, ...) are accepted and ignored, and so
    is `template` unless `isolation="docker"`, where it is the container image. Beyond E2B:
    `isolation` ("auto", "none", "bwrap", "docker"), `image` (a docker sandbox's image, default
    the bridge's `--docker-image`; it wins over `template`), `cwd` (its home), `limits`,
    `bridge_path`/`bridge_args` (which binary to run, and its flags).

    `kill()`, leaving a `with` block or garbage collection kill the sandbox and everything in it
    and end the bridge process and the client's threads.
    """

    def __init__(
        self,
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
    ) -> None:
        self._bridge = Bridge(bridge_path, bridge_args)
        # Garbage collection (and interpreter exit) must not leave the bridge or its threads.
        self._finalizer = weakref.finalize(self, self._bridge.abandon)
        try:
            info = self._bridge.call(
                "initialize", {"clientInfo": {"name": CLIENT_NAME, "version": CLIENT_VERSION}}, timeout=request_timeout
            )
            self._bridge.initialize(info)
            created = self._bridge.call(
                "sandbox.create",
                create_params(
                    timeout=timeout, metadata=metadata, envs=envs, allow_internet_access=allow_internet_access,
                    isolation=isolation, cwd=cwd, limits=limits, image=image, template=template,
                ),
                timeout=request_timeout,
            )
        except BaseException:
            self._bridge.close(None)
            self._finalizer.detach()
            raise
        self._sandbox_id: str = created["sandboxId"]
        self._home: Optional[str] = created.get("home")
        self._isolation: Optional[str] = created.get("isolation")
        self._metadata = dict(metadata or {})
        self._request_timeout = request_timeout
        self.commands = Commands(self._bridge, self._sandbox_id, self, request_timeout)
        self.pty = Pty(self._bridge, self._sandbox_id, self.commands, request_timeout)
        self.files = Filesystem(self._bridge, self._sandbox_id, request_timeout)

    @classmethod
    def create(cls: Type[S], *args: Any, **kwargs: Any) -> S:
        """Creates a sandbox (same options as `Sandbox(...)`)."""
        return cls(*args, **kwargs)

    @property
    def sandbox_id(self) -> str:
        return self._sandbox_id

    @property
    def home(self) -> Optional[str]:
        """The sandbox's home: relative paths and the default command cwd start there."""
        return self._home

    @property
    def isolation(self) -> Optional[str]:
        return self._isolation

    @property
    def capabilities(self) -> Dict[str, Any]:
        """What the bridge's `initialize` reported (`isolation`, `pty`, `files`)."""
        return dict(self._bridge.capabilities)

    @property
    def bridge_pid(self) -> int:
        """The host pid of this sandbox's `sandbox-rpc` process."""
        return self._bridge.pid

    def kill(self, request_timeout: Optional[float] = None) -> bool:
        """Kills the sandbox and every process in it, and ends the bridge.
        True the first time, False once it was killed already."""
        self._finalizer.detach()
        return self._bridge.close(self._sandbox_id)

    close = kill

    def is_running(self, request_timeout: Optional[float] = None) -> bool:
        if self._bridge.closed:
            return False
        try:
            sandboxes = self._bridge.call("sandbox.list", {}, timeout=request_timeout or self._request_timeout)
        except SandboxException:
            return False
        return any(s.get("sandboxId") == self._sandbox_id for s in sandboxes.get("sandboxes", []))

    def get_info(self, request_timeout: Optional[float] = None) -> SandboxInfo:
        result = self._bridge.call("sandbox.list", {}, timeout=request_timeout or self._request_timeout)
        return sandbox_info(self._sandbox_id, result)

    def set_timeout(self, timeout: float, request_timeout: Optional[float] = None) -> None:
        """The sandbox is killed `timeout` seconds from now (0: never)."""
        self._bridge.call(
            "sandbox.setTimeout", {"sandboxId": self._sandbox_id, "timeout": timeout},
            timeout=request_timeout or self._request_timeout,
        )

    def get_host(self, port: int) -> str:
        """"host:port" where a server listening on `port` in the sandbox is reachable from here."""
        result = self._bridge.call(
            "sandbox.getHost", {"sandboxId": self._sandbox_id, "port": port}, timeout=self._request_timeout
        )
        return str(result["host"])

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.kill()

    def __repr__(self) -> str:
        return f"Sandbox(sandbox_id={self._sandbox_id!r}, isolation={self._isolation!r})"
