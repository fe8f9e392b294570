"""Data models with E2B's names and fields, and the conversions from the wire's shapes."""

import posixpath
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import IO, Any, Dict, List, Mapping, Optional, TypedDict, Union

from .exceptions import SandboxException


class Stdout(str):
    """A chunk of a command's stdout: a `str` (as E2B passes it) that also knows when it came.

    `line` is the text itself (Declaw's model name); `timestamp` is the Unix time in seconds at
    which the bridge read it, or None for output that was kept while nobody listened.
    """

    timestamp: Optional[float]

    def __new__(cls, line: str = "", timestamp: Optional[float] = None) -> "Stdout":
        obj = super().__new__(cls, line)
        obj.timestamp = timestamp
        return obj

    @property
    def line(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(line={str(self)!r}, timestamp={self.timestamp!r})"


class Stderr(Stdout):
    """A chunk of a command's stderr; see `Stdout`."""


PtyOutput = bytes
"""PTY output: raw bytes, never ending inside a UTF-8 character."""


@dataclass
class PtySize:
    """Pseudo-terminal size. Note the order: rows, then cols."""

    rows: int
    cols: int


@dataclass
class CommandResult:
    """What a finished command produced. `error` is None on success, else why it failed
    ("exit status 2", "signal: killed", ...)."""

    stdout: str
    stderr: str
    exit_code: int
    error: Optional[str] = None


@dataclass
class CommandExitException(SandboxException, CommandResult):
    """Raised when a command exits with a non-zero code; it is also its `CommandResult`."""

    def __str__(self) -> str:
        return f"Command exited with code {self.exit_code} and error:\n{self.stderr}"


@dataclass
class ProcessInfo:
    """A running command or PTY. `cmd` is the command line as given to `run`; `args` is empty."""

    pid: int
    tag: Optional[str]
    cmd: str
    args: List[str]
    envs: Dict[str, str]
    cwd: Optional[str]
    is_pty: bool = False
    started_at: Optional[float] = None


class FileType(Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"


@dataclass
class WriteInfo:
    name: str
    type: Optional[FileType]
    path: str


@dataclass
class EntryInfo(WriteInfo):
    size: int
    mode: int
    permissions: str
    owner: str
    group: str
    modified_time: datetime
    symlink_target: Optional[str] = None


class WriteEntry(TypedDict):
    """One file for `files.write_files`."""

    path: str
    data: Union[str, bytes, IO[Any]]


# --- conversions from the wire -------------------------------------------------------------

_GO_SIGNAL_TEXT = {
    "SIGKILL": "killed",
    "SIGTERM": "terminated",
    "SIGINT": "interrupt",
    "SIGHUP": "hangup",
    "SIGQUIT": "quit",
    "SIGPIPE": "broken pipe",
    "SIGSEGV": "segmentation fault",
    "SIGABRT": "aborted",
    "SIGBUS": "bus error",
}


def error_text(exit_code: int, signal: Optional[str], error: Optional[str]) -> Optional[str]:
    """E2B's `error` field: None on success, else e.g. "exit status 2" or "signal: killed"."""
    if error:
        return error
    if signal:
        return f"signal: {_GO_SIGNAL_TEXT.get(signal, signal)}"
    if exit_code != 0:
        return f"exit status {exit_code}"
    return None


def command_result(result: Mapping[str, Any]) -> CommandResult:
    exit_code = int(result.get("exitCode") or 0)
    return CommandResult(
        stdout=result.get("stdout") or "",
        stderr=result.get("stderr") or "",
        exit_code=exit_code,
        error=error_text(exit_code, result.get("signal"), result.get("error")),
    )


def process_info(p: Mapping[str, Any]) -> ProcessInfo:
    return ProcessInfo(
        pid=int(p["pid"]),
        tag=p.get("tag"),
        cmd=p.get("cmd") or "",
        args=list(p.get("args") or []),
        envs=dict(p.get("envs") or {}),
        cwd=p.get("cwd"),
        is_pty=bool(p.get("isPty", False)),
        started_at=p.get("startedAt"),
    )


_FILE_TYPE_CHAR = {FileType.FILE: "-", FileType.DIR: "d", FileType.SYMLINK: "l"}


def _permissions(file_type: Optional[FileType], mode: int) -> str:
    if stat.S_IFMT(mode):
        return stat.filemode(mode)
    type_char = _FILE_TYPE_CHAR.get(file_type, "?") if file_type else "?"
    return type_char + stat.filemode(stat.S_IFREG | (mode & 0o7777))[1:]


def _file_type(value: Any) -> Optional[FileType]:
    try:
        return FileType(value)
    except ValueError:
        return None


def entry_info(e: Mapping[str, Any]) -> EntryInfo:
    if isinstance(e.get("entry"), dict):  # a result that wraps the entry
        e = e["entry"]
    path = e.get("path") or ""
    file_type = _file_type(e.get("type"))
    mode = int(e.get("mode") or 0)
    modified = e.get("modifiedTime")
    if isinstance(modified, (int, float)):
        modified_time = datetime.fromtimestamp(modified, tz=timezone.utc)
    elif isinstance(modified, str):
        modified_time = datetime.fromisoformat(modified.replace("Z", "+00:00"))
    else:
        modified_time = datetime.fromtimestamp(0, tz=timezone.utc)
    return EntryInfo(
        name=e.get("name") or posixpath.basename(path.rstrip("/")),
        type=file_type,
        path=path,
        size=int(e.get("size") or 0),
        mode=mode & 0o7777 if stat.S_IFMT(mode) else mode,
        permissions=e.get("permissions") or _permissions(file_type, mode),
        owner=e.get("owner") or "",
        group=e.get("group") or "",
        modified_time=modified_time,
        symlink_target=e.get("symlinkTarget"),
    )


def write_info(path: str) -> WriteInfo:
    return WriteInfo(name=posixpath.basename(path.rstrip("/")), type=FileType.FILE, path=path)


@dataclass
class SandboxInfo:
    """What `Sandbox.get_info()` returns (a subset of E2B's)."""

    sandbox_id: str
    metadata: Dict[str, str] = field(default_factory=dict)
    started_at: Optional[datetime] = None
    isolation: Optional[str] = None
    process_count: int = 0
