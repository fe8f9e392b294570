"""Exceptions, named as in E2B's SDK, and the one table that maps the wire's `data.kind` to them."""

from typing import Any, Dict, Mapping, Optional, Type


class SandboxException(Exception):
    """Base class of every error this package raises.

    Errors that came from the bridge carry the JSON-RPC error: `code`, `kind` (the stable
    `data.kind`) and `data` (the whole `data` object); they are None for client-side errors.
    """

    code: Optional[int] = None
    kind: Optional[str] = None
    data: Optional[Dict[str, Any]] = None


class TimeoutException(SandboxException):
    """A command's `timeout`, a `request_timeout` or the sandbox's own end of life passed."""


class InvalidArgumentException(SandboxException):
    """A parameter was rejected (the bridge's InvalidParams, or checked here)."""


class NotFoundException(SandboxException):
    """A sandbox or process does not exist."""


class FileNotFoundException(NotFoundException):
    """A path does not exist in the sandbox."""


class NotEnoughSpaceException(SandboxException):
    """Kept for E2B compatibility; the bridge reports a full disk as an ordinary error."""


class AuthenticationException(SandboxException):
    """Kept for E2B compatibility; a local bridge never asks for credentials."""


SANDBOX_KILLED_MESSAGE = (
    "The sandbox was killed or reached its end of life; "
    "the command can no longer be waited for"
)
EXECUTION_TIMEOUT_MESSAGE = (
    "Execution timed out — the 'timeout' option can be used to increase this timeout"
)
REQUEST_TIMEOUT_MESSAGE = (
    "Request timed out — the 'request_timeout' option can be used to increase this timeout"
)

# The one place where the wire's error kinds become exception classes (wire-decisions.md).
# Kinds not listed (ParseError, InvalidRequest, MethodNotFound, Internal, PermissionDenied,
# AlreadyExists, ProcessNotRunning, StdinClosed, LimitExceeded, Unsupported) are SandboxException.
KIND_TO_EXCEPTION: Mapping[str, Type[SandboxException]] = {
    "InvalidParams": InvalidArgumentException,
    "NotADirectory": InvalidArgumentException,
    "IsADirectory": InvalidArgumentException,
    "SandboxNotFound": NotFoundException,
    "ProcessNotFound": NotFoundException,
    "FileNotFound": FileNotFoundException,
    "Timeout": TimeoutException,
    "SandboxKilled": TimeoutException,
    "RequestCancelled": TimeoutException,
}

# Messages that read better than the bridge's own for E2B users.
_KIND_MESSAGES: Mapping[str, str] = {
    "Timeout": EXECUTION_TIMEOUT_MESSAGE,
    "SandboxKilled": SANDBOX_KILLED_MESSAGE,
    "RequestCancelled": "Request cancelled",
}


def exception_from_error(error: Any) -> SandboxException:
    """Turns a JSON-RPC `error` object into the matching exception."""
    if not isinstance(error, dict):
        return SandboxException(f"malformed error from sandbox-rpc: {error!r}")
    data = error.get("data")
    data = data if isinstance(data, dict) else {}
    kind = data.get("kind")
    cls = KIND_TO_EXCEPTION.get(kind, SandboxException) if isinstance(kind, str) else SandboxException
    message = str(error.get("message", "sandbox-rpc error"))
    if isinstance(kind, str) and kind in _KIND_MESSAGES:
        message = f"{_KIND_MESSAGES[kind]} ({message})"
    exc = cls(message)
    exc.code = error.get("code") if isinstance(error.get("code"), int) else None
    exc.kind = kind if isinstance(kind, str) else None
    exc.data = data
    return exc
