"""Pieces shared by the sync and async clients: request parameters and result rules."""

import base64
import io
from datetime import datetime, timezone
from typing import IO, Any, Dict, Iterator, Mapping, Optional, Tuple, Union

from .exceptions import (
    EXECUTION_TIMEOUT_MESSAGE,
    SANDBOX_KILLED_MESSAGE,
    InvalidArgumentException,
    NotFoundException,
    SandboxException,
    TimeoutException,
)
from .models import CommandExitException, CommandResult, PtySize, SandboxInfo, error_text

# Environment the client adds to every sandbox unless the caller sets it: a pipe makes Python
# block-buffer stdout, and agents (and the seeds' examples) read output while a command runs.
DEFAULT_SANDBOX_ENVS: Mapping[str, str] = {"PYTHONUNBUFFERED": "1"}

PTY_DEFAULT_ENVS: Mapping[str, str] = {
    "TERM": "xterm-256color",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
}

# Files move in pieces of this many bytes (files.read offset/length, files.write append), so no
# message comes near the bridge's line limit and `read(format="stream")` really streams.
FILE_CHUNK_SIZE = 4 * 1024 * 1024

# Limit for the bridge to answer a request that is not a command run or wait (seconds).
DEFAULT_REQUEST_TIMEOUT = 60.0


class Utf8Joiner:
    """Holds back an incomplete UTF-8 sequence at the end of a chunk, so that no chunk handed on
    ends inside a character (PTY output is raw bytes on the wire)."""

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, data: bytes) -> bytes:
        data = self._tail + data
        cut = _complete_prefix_length(data)
        self._tail = data[cut:]
        return data[:cut]

    def flush(self) -> bytes:
        tail, self._tail = self._tail, b""
        return tail


def _complete_prefix_length(data: bytes) -> int:
    n = len(data)
    for back in range(1, min(4, n) + 1):
        byte = data[n - back]
        if byte & 0xC0 == 0x80:  # continuation byte: keep looking for the lead
            continue
        if byte < 0x80:
            return n
        if byte & 0xE0 == 0xC0:
            need = 2
        elif byte & 0xF0 == 0xE0:
            need = 3
        elif byte & 0xF8 == 0xF0:
            need = 4
        else:  # not a lead byte: nothing to wait for
            return n
        return n - back if back < need else n
    return n


def timeout_value(timeout: Optional[float]) -> float:
    """E2B's `None` and the wire's `0` both mean no limit."""
    return 0 if timeout is None else timeout


def create_params(
    *,
    timeout: Optional[float],
    metadata: Optional[Mapping[str, str]],
    envs: Optional[Mapping[str, str]],
    allow_internet_access: Optional[bool],
    isolation: Optional[str],
    cwd: Optional[str],
    limits: Optional[Mapping[str, int]],
    image: Optional[str],
    template: Optional[str],
) -> Dict[str, Any]:
    params: Dict[str, Any] = {"envs": {**DEFAULT_SANDBOX_ENVS, **(envs or {})}}
    if timeout:
        params["timeout"] = timeout
    if metadata:
        params["metadata"] = dict(metadata)
    if allow_internet_access is not None:
        params["network"] = bool(allow_internet_access)
    if isolation is not None:
        params["isolation"] = isolation
    if cwd is not None:
        params["cwd"] = cwd
    if limits:
        params["limits"] = dict(limits)
    # E2B's `template` names what the sandbox runs, which only a docker sandbox has (its image).
    # Elsewhere it stays ignored: E2B code passes names like "base" that are no image here.
    if image is None and isolation == "docker":
        image = template
    if image is not None:
        params["image"] = image
    return params


def run_params(
    sandbox_id: str,
    cmd: str,
    *,
    background: bool,
    envs: Optional[Mapping[str, str]],
    user: Optional[str],
    cwd: Optional[str],
    stdin: bool,
    timeout: Optional[float],
    stream: Optional[bool] = None,
    tag: Optional[str] = None,
) -> Dict[str, Any]:
    params: Dict[str, Any] = {
        "sandboxId": sandbox_id,
        "cmd": cmd,
        "background": background,
        "stdin": stdin,
        "timeout": timeout_value(timeout),
    }
    if stream is not None:
        params["stream"] = stream
    if envs:
        params["envs"] = dict(envs)
    if user is not None:
        params["user"] = user
    if cwd is not None:
        params["cwd"] = cwd
    if tag is not None:
        params["tag"] = tag
    return params


def pty_params(
    sandbox_id: str,
    size: PtySize,
    *,
    user: Optional[str],
    cwd: Optional[str],
    envs: Optional[Mapping[str, str]],
    timeout: Optional[float],
) -> Dict[str, Any]:
    params: Dict[str, Any] = {
        "sandboxId": sandbox_id,
        "cols": size.cols,
        "rows": size.rows,
        "envs": {**PTY_DEFAULT_ENVS, **(envs or {})},
        "timeout": timeout_value(timeout),
    }
    if user is not None:
        params["user"] = user
    if cwd is not None:
        params["cwd"] = cwd
    return params


def stdin_params(sandbox_id: str, pid: int, data: Union[str, bytes]) -> Dict[str, Any]:
    if isinstance(data, str):
        return {"sandboxId": sandbox_id, "pid": pid, "data": data}
    return {"sandboxId": sandbox_id, "pid": pid, "data": base64.b64encode(bytes(data)).decode("ascii"), "encoding": "base64"}


def upload_pieces(data: Union[str, bytes, bytearray, memoryview, IO[Any]]) -> Iterator[Tuple[str, str]]:
    """(content, encoding) pieces for files.write then files.write append; at least one."""
    if isinstance(data, str):
        if len(data) <= FILE_CHUNK_SIZE // 4:  # at most FILE_CHUNK_SIZE bytes of UTF-8
            yield data, "utf8"
            return
        data = data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        for start in range(0, max(len(raw), 1), FILE_CHUNK_SIZE):
            yield base64.b64encode(raw[start : start + FILE_CHUNK_SIZE]).decode("ascii"), "base64"
        return
    if isinstance(data, io.IOBase) or hasattr(data, "read"):
        first = True
        while True:
            chunk = data.read(FILE_CHUNK_SIZE // 4 if isinstance(data, io.TextIOBase) else FILE_CHUNK_SIZE)
            if not chunk and not first:
                return
            first = False
            if isinstance(chunk, str):
                yield chunk, "utf8"
            else:
                yield base64.b64encode(bytes(chunk)).decode("ascii"), "base64"
            if not chunk:
                return
    raise InvalidArgumentException(f"unsupported data type for a file: {type(data).__name__}")


def check_appended(path: str, pieces: int, written: int, info: Mapping[str, Any]) -> None:
    """After a write in several pieces: the file must hold them all (an older bridge that
    ignores `append` would have kept only the last)."""
    if pieces > 1 and int(info.get("size", -1)) != written:
        raise SandboxException(
            f"writing {path} in {pieces} pieces left {info.get('size')} bytes instead of {written}: "
            "this bridge does not support files.write append"
        )


def read_params(sandbox_id: str, path: str, offset: int) -> Dict[str, Any]:
    return {"sandboxId": sandbox_id, "path": path, "encoding": "base64", "offset": offset, "length": FILE_CHUNK_SIZE}


def read_piece(result: Mapping[str, Any], offset: int) -> Tuple[bytes, bool]:
    """(bytes, more to read) from a files.read of one piece. An older bridge that ignores
    offset/length answers with the whole file and no `size`: then that is all."""
    data = base64.b64decode(str(result.get("content") or ""))
    size = result.get("size")
    if not isinstance(size, int):
        return data, False
    return data, bool(data) and offset + len(data) < size


def check_read_format(format: str) -> str:
    if format not in ("text", "bytes", "stream"):
        raise InvalidArgumentException(f"format must be 'text', 'bytes' or 'stream', not {format!r}")
    return "utf8" if format == "text" else "base64"


def check_depth(depth: Optional[int]) -> None:
    if depth is not None and depth < 1:
        raise InvalidArgumentException("depth should be at least 1")


# --- how a command's end becomes a result or an exception ---------------------------------


def exit_failure(exit_params: Mapping[str, Any]) -> Optional[SandboxException]:
    """The exception a `commands.exit` stands for, if it was not an ordinary exit."""
    error = exit_params.get("error")
    if error == "Timeout":
        exc: SandboxException = TimeoutException(EXECUTION_TIMEOUT_MESSAGE)
    elif error == "SandboxKilled":
        exc = TimeoutException(SANDBOX_KILLED_MESSAGE)
    else:
        return None
    exc.kind = error
    exc.data = dict(exit_params)
    return exc


def result_from_exit(exit_params: Mapping[str, Any], stdout: str, stderr: str) -> CommandResult:
    code = exit_params.get("exitCode")
    exit_code = int(code) if code is not None else -1
    return CommandResult(
        stdout=stdout,
        stderr=stderr,
        exit_code=exit_code,
        error=error_text(exit_code, exit_params.get("signal"), exit_params.get("error")),
    )


def raise_for_exit_code(result: CommandResult) -> CommandResult:
    if result.exit_code != 0:
        raise CommandExitException(
            stdout=result.stdout, stderr=result.stderr, exit_code=result.exit_code, error=result.error
        )
    return result


def timeout_with_output(exc: SandboxException) -> SandboxException:
    """A run's Timeout error carries what the command printed; expose it as attributes."""
    data = exc.data or {}
    for name in ("stdout", "stderr"):
        setattr(exc, name, data.get(name) or "")
    setattr(exc, "exit_code", data.get("exitCode"))
    return exc


def sandbox_info(sandbox_id: str, listing: Mapping[str, Any]) -> SandboxInfo:
    for s in listing.get("sandboxes", []):
        if s.get("sandboxId") == sandbox_id:
            started = s.get("startedAt")
            return SandboxInfo(
                sandbox_id=sandbox_id,
                metadata=dict(s.get("metadata") or {}),
                started_at=datetime.fromtimestamp(started, tz=timezone.utc) if isinstance(started, (int, float)) else None,
                isolation=s.get("isolation"),
                process_count=int(s.get("processCount") or 0),
            )
    raise NotFoundException(f"sandbox {sandbox_id} is not running")
