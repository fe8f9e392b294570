"""sandbox_rpc: run commands in local sandboxes through `sandbox-rpc`, with E2B's Python API.

Code written for E2B's `Sandbox` command, PTY and file surface runs by changing the import::

    from sandbox_rpc import Sandbox

    with Sandbox.create() as sandbox:
        print(sandbox.commands.run("echo hi").stdout)
"""

from ._bridge import CLIENT_VERSION as __version__
from ._bridge import find_bridge
from .exceptions import (
    AuthenticationException,
    FileNotFoundException,
    InvalidArgumentException,
    NotEnoughSpaceException,
    NotFoundException,
    SandboxException,
    TimeoutException,
)
from .models import (
    CommandExitException,
    CommandResult,
    EntryInfo,
    FileType,
    ProcessInfo,
    PtyOutput,
    PtySize,
    SandboxInfo,
    Stderr,
    Stdout,
    WriteEntry,
    WriteInfo,
)
from .sandbox_async.command_handle import AsyncCommandHandle
from .sandbox_async.commands import AsyncCommands
from .sandbox_async.filesystem import AsyncFilesystem
from .sandbox_async.main import AsyncSandbox
from .sandbox_async.pty import AsyncPty
from .sandbox_sync.command_handle import CommandHandle
from .sandbox_sync.commands import Commands
from .sandbox_sync.filesystem import Filesystem
from .sandbox_sync.main import Sandbox
from .sandbox_sync.pty import Pty

__all__ = [
    "AsyncCommandHandle",
    "AsyncCommands",
    "AsyncFilesystem",
    "AsyncPty",
    "AsyncSandbox",
    "AuthenticationException",
    "CommandExitException",
    "CommandHandle",
    "CommandResult",
    "Commands",
    "EntryInfo",
    "FileNotFoundException",
    "FileType",
    "Filesystem",
    "InvalidArgumentException",
    "NotEnoughSpaceException",
    "NotFoundException",
    "ProcessInfo",
    "Pty",
    "PtyOutput",
    "PtySize",
    "Sandbox",
    "SandboxException",
    "SandboxInfo",
    "Stderr",
    "Stdout",
    "TimeoutException",
    "WriteEntry",
    "WriteInfo",
    "find_bridge",
    "__version__",
]
