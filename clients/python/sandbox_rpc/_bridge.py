"""The transport: one `sandbox-rpc` process, its pipes, and the thread that reads its stdout.

Everything above this module sees a `Bridge` with `call` (blocking), `acall` (awaitable),
`subscribe` (route a pid's notifications to an object) and `close`. The reader thread never runs
user code: responses complete an Event or an asyncio future, notifications go to subscribers,
and subscribers of the sync client hand their work to one dispatcher thread per bridge (started
on first use), so a user callback may itself call the bridge without deadlocking it.
"""

import asyncio
import base64
import itertools
import json
import logging
import os
import queue
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import (
    IO,
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Tuple,
)

from .exceptions import (
    REQUEST_TIMEOUT_MESSAGE,
    SANDBOX_KILLED_MESSAGE,
    SandboxException,
    TimeoutException,
    exception_from_error,
)

logger = logging.getLogger("sandbox_rpc")

CLIENT_NAME = "sandbox-rpc-python"
CLIENT_VERSION = "0.1.0"
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_CLOSE_TIMEOUT = 30.0
_REAP_TIMEOUT = 10.0

Message = Dict[str, Any]
Hook = Callable[[Any], Any]
Completion = Callable[[Message, Any], None]


class Subscriber(Protocol):
    """Receives one pid's notifications, on the reader thread. Must return quickly."""

    def on_output(self, stream: str, data: str, timestamp: Optional[float]) -> None: ...

    def on_pty(self, data: bytes) -> None: ...

    def on_exit(self, params: Mapping[str, Any]) -> None: ...

    def on_close(self, error: SandboxException) -> None: ...


def find_bridge(explicit: Optional[str] = None) -> str:
    """`explicit`, else $SANDBOX_RPC_BIN, else `sandbox-rpc` on PATH, else the checkout's
    `.build/release/sandbox-rpc`, then `.build/debug/sandbox-rpc`."""
    for candidate, origin in ((explicit, "bridge_path"), (os.environ.get("SANDBOX_RPC_BIN"), "SANDBOX_RPC_BIN")):
        if candidate:
            if not os.access(candidate, os.X_OK):
                raise SandboxException(f"{origin} points to {candidate!r}, which is not an executable file")
            return candidate
    on_path = shutil.which("sandbox-rpc")
    if on_path:
        return on_path
    in_checkout = checkout_bridge([Path(__file__).resolve().parent, Path.cwd().resolve()])
    if in_checkout:
        return in_checkout
    raise SandboxException(
        "sandbox-rpc binary not found: set SANDBOX_RPC_BIN, put sandbox-rpc on PATH, "
        "or build it in the checkout with `swift build -c release`"
    )


def checkout_bridge(starts: Sequence[Path]) -> Optional[str]:
    """The first `.build/release/sandbox-rpc`, then `.build/debug/sandbox-rpc`, of a Swift
    checkout (a directory with Package.swift) at or above one of `starts`."""
    seen = set()
    for start in starts:
        for root in (start, *start.parents):
            if root in seen:
                continue
            seen.add(root)
            if not (root / "Package.swift").is_file():
                continue
            for config in ("release", "debug"):
                binary = root / ".build" / config / "sandbox-rpc"
                if os.access(binary, os.X_OK):
                    return str(binary)
    return None


class _Dispatcher:
    """One thread that runs sync subscribers' work (and so user callbacks) in arrival order."""

    def __init__(self, name: str) -> None:
        self._queue: "queue.SimpleQueue[Optional[Tuple[Callable[..., None], Tuple[Any, ...]]]]" = queue.SimpleQueue()
        self.thread = threading.Thread(target=_Dispatcher._run, args=(self._queue,), name=name, daemon=True)
        self.thread.start()

    def put(self, fn: Callable[..., None], args: Tuple[Any, ...]) -> None:
        self._queue.put((fn, args))

    def stop(self) -> None:
        self._queue.put(None)

    @staticmethod
    def _run(q: "queue.SimpleQueue[Optional[Tuple[Callable[..., None], Tuple[Any, ...]]]]") -> None:
        while True:
            item = q.get()
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception:  # a bug here must not stop other handles' delivery
                logger.exception("sandbox-rpc: error while delivering an event")


class Bridge:
    """One `sandbox-rpc` child process and the JSON-RPC session over its stdin/stdout."""

    def __init__(
        self,
        path: Optional[str] = None,
        args: Sequence[str] = (),
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self.path = find_bridge(path)
        self.max_message_bytes = max_message_bytes
        self.server_info: Dict[str, Any] = {}
        self.capabilities: Dict[str, Any] = {}
        self._stderr: IO[bytes] = tempfile.TemporaryFile(prefix="sandbox-rpc-stderr-")
        try:
            # Own session: a terminal's Ctrl-C reaches this Python process, which then closes
            # the sandbox as it sees fit, instead of killing every sandbox behind its back.
            self._proc = subprocess.Popen(
                [self.path, *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                close_fds=True,
                start_new_session=True,
            )
        except OSError as e:
            self._stderr.close()
            raise SandboxException(f"cannot start {self.path}: {e}") from e
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._stdin = self._proc.stdin
        self.pid = self._proc.pid
        self._write_lock = threading.RLock()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: Dict[int, Tuple[Completion, Optional[Hook]]] = {}
        self._subscribers: Dict[Tuple[str, int], List[Subscriber]] = {}
        self._closing = False
        self._closed_error: Optional[SandboxException] = None
        self._exited = threading.Event()
        self._exit_callbacks: List[Callable[[], None]] = []
        self._dispatcher: Optional[_Dispatcher] = None
        self._dispatch_closed = False
        self.returncode: Optional[int] = None
        self._reader = threading.Thread(
            target=self._read_loop, name=f"sandbox-rpc-reader-{self.pid}", daemon=True
        )
        self._reader.start()

    # --- lifecycle --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closing or self._exited.is_set()

    def initialize(self, info: Mapping[str, Any]) -> None:
        self.server_info = dict(info.get("serverInfo") or {})
        self.capabilities = dict(info.get("capabilities") or {})

    def has_capability(self, name: str) -> bool:
        return bool(self.capabilities.get(name))

    def require_capability(self, name: str) -> None:
        if not self.has_capability(name):
            version = self.server_info.get("version", "?")
            raise SandboxException(f"bridge lacks {name} capability (sandbox-rpc {version} at {self.path})")

    def _begin_close(self) -> bool:
        with self._lock:
            if self._closing:
                return False
            self._closing = True
            return True

    def close(self, sandbox_id: Optional[str]) -> bool:
        """Kills the sandbox, shuts the bridge down and reaps it; threads are joined.
        Returns whether the sandbox was killed (False when it was closed already)."""
        if not self._begin_close():
            self._join()
            return False
        killed = False
        if not self._exited.is_set():
            if sandbox_id is not None:
                try:
                    killed = bool(self.call("sandbox.kill", {"sandboxId": sandbox_id}, timeout=_CLOSE_TIMEOUT)["killed"])
                except SandboxException as e:
                    logger.debug("sandbox.kill during close failed: %s", e)
            try:
                self.call("shutdown", {}, timeout=_CLOSE_TIMEOUT)
            except SandboxException as e:
                logger.debug("shutdown during close failed: %s", e)
        self._close_stdin()
        self._join()
        return killed

    async def aclose(self, sandbox_id: Optional[str]) -> bool:
        """`close` for the event loop: the same steps, awaited."""
        if not self._begin_close():
            await self._wait_exited()
            return False
        killed = False
        if not self._exited.is_set():
            if sandbox_id is not None:
                try:
                    killed = bool(
                        (await self.acall("sandbox.kill", {"sandboxId": sandbox_id}, timeout=_CLOSE_TIMEOUT))["killed"]
                    )
                except SandboxException as e:
                    logger.debug("sandbox.kill during close failed: %s", e)
            try:
                await self.acall("shutdown", {}, timeout=_CLOSE_TIMEOUT)
            except SandboxException as e:
                logger.debug("shutdown during close failed: %s", e)
        self._close_stdin()
        await self._wait_exited()
        return killed

    def abandon(self) -> None:
        """For garbage collection and interpreter exit: never blocks. Closing stdin makes the
        bridge kill everything it started and exit; the reader thread then reaps it."""
        if self._begin_close():
            self._close_stdin()

    def _close_stdin(self) -> None:
        locked = self._write_lock.acquire(timeout=1.0)
        try:
            self._stdin.close()
        except (OSError, ValueError):
            pass
        finally:
            if locked:
                self._write_lock.release()

    def _join(self) -> None:
        me = threading.current_thread()
        if self._reader is not me:
            self._reader.join(_REAP_TIMEOUT + 5)
            if self._reader.is_alive():  # pragma: no cover - the bridge ignored EOF
                self._proc.kill()
                self._reader.join()
        dispatcher = self._dispatcher
        if dispatcher is not None and dispatcher.thread is not me:
            dispatcher.thread.join(_REAP_TIMEOUT)
            if dispatcher.thread.is_alive():
                logger.warning("sandbox-rpc: an output callback is still running after the sandbox was closed")

    async def _wait_exited(self) -> None:
        if not self._exited.is_set():
            loop = asyncio.get_running_loop()
            fut = loop.create_future()

            def wake() -> None:
                _post(loop, fut, None)

            with self._lock:
                if self._exited.is_set():
                    fut.set_result(None)
                else:
                    self._exit_callbacks.append(wake)
            await fut
        # The reader sets _exited as its last step; the join is at most a few instructions.
        self._reader.join(1.0)
        dispatcher = self._dispatcher
        if dispatcher is not None:
            dispatcher.thread.join(1.0)

    # --- requests ---------------------------------------------------------------------------

    def _send(self, method: str, params: Optional[Mapping[str, Any]], done: Completion, hook: Optional[Hook]) -> int:
        rid = next(self._ids)
        msg: Message = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        line = self._encode(msg)
        with self._lock:
            if self._closed_error is not None:
                raise _copy_error(self._closed_error)
            self._pending[rid] = (done, hook)
        try:
            self._write(line)
        except BaseException:
            with self._lock:
                self._pending.pop(rid, None)
            raise
        return rid

    def notify(self, method: str, params: Optional[Mapping[str, Any]] = None) -> None:
        msg: Message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self._write(self._encode(msg))

    def _cancel(self, rid: int) -> None:
        try:
            self.notify("$/cancelRequest", {"id": rid})
        except SandboxException:
            pass

    def call(
        self,
        method: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        timeout: Optional[float] = None,
        hook: Optional[Hook] = None,
    ) -> Any:
        """Sends a request and blocks until its response; returns `result`, raises for `error`.
        With `hook`, returns (result, hook(result)); the hook runs on the reader thread before
        any later message is read (so it can subscribe to a pid's notifications in time)."""
        box: List[Tuple[Message, Any]] = []
        event = threading.Event()

        def done(msg: Message, extra: Any) -> None:
            box.append((msg, extra))
            event.set()

        rid = self._send(method, params, done, hook)
        try:
            finished = event.wait(timeout) if timeout else event.wait()
        except BaseException:  # KeyboardInterrupt: do not leave the request running
            self._cancel(rid)
            raise
        if not finished:
            self._cancel(rid)
            raise TimeoutException(REQUEST_TIMEOUT_MESSAGE)
        msg, extra = box[0]
        result = _unwrap(msg)
        return (result, extra) if hook is not None else result

    async def acall(
        self,
        method: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        timeout: Optional[float] = None,
        hook: Optional[Hook] = None,
    ) -> Any:
        """`call` for the event loop: the response resolves a future via call_soon_threadsafe.
        Cancelling the awaiting task cancels the request on the bridge."""
        loop = asyncio.get_running_loop()
        fut: "asyncio.Future[Tuple[Message, Any]]" = loop.create_future()

        def done(msg: Message, extra: Any) -> None:
            _post(loop, fut, (msg, extra))

        rid = self._send(method, params, done, hook)
        try:
            if timeout:
                msg, extra = await asyncio.wait_for(fut, timeout)
            else:
                msg, extra = await fut
        except asyncio.TimeoutError:
            self._cancel(rid)
            raise TimeoutException(REQUEST_TIMEOUT_MESSAGE) from None
        except asyncio.CancelledError:
            self._cancel(rid)
            raise
        result = _unwrap(msg)
        return (result, extra) if hook is not None else result

    def _encode(self, msg: Message) -> bytes:
        try:
            line = json.dumps(msg, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError, UnicodeEncodeError) as e:
            from .exceptions import InvalidArgumentException

            raise InvalidArgumentException(f"cannot encode request: {e}") from e
        if len(line) > self.max_message_bytes:
            from .exceptions import InvalidArgumentException

            raise InvalidArgumentException(
                f"request of {len(line)} bytes exceeds the bridge's message limit of {self.max_message_bytes} bytes"
            )
        return line + b"\n"

    def _write(self, line: bytes) -> None:
        with self._write_lock:
            try:
                self._stdin.write(line)
                self._stdin.flush()
            except (OSError, ValueError) as e:
                with self._lock:
                    err = self._closed_error
                raise (_copy_error(err) if err else SandboxException(f"sandbox-rpc bridge is closed ({e})")) from None

    # --- notifications ----------------------------------------------------------------------

    def subscribe(self, sandbox_id: str, pid: int, subscriber: Subscriber) -> None:
        with self._lock:
            error = self._closed_error
            if error is None:
                self._subscribers.setdefault((sandbox_id, pid), []).append(subscriber)
        if error is not None:
            subscriber.on_close(_copy_error(error))

    def unsubscribe(self, sandbox_id: str, pid: int, subscriber: Subscriber) -> int:
        """Returns how many subscribers the pid has left."""
        with self._lock:
            subs = self._subscribers.get((sandbox_id, pid), [])
            if subscriber in subs:
                subs.remove(subscriber)
            if not subs:
                self._subscribers.pop((sandbox_id, pid), None)
            return len(subs)

    def dispatch(self, fn: Callable[..., None], *args: Any) -> None:
        """Runs `fn(*args)` on the dispatcher thread, after everything dispatched before."""
        with self._lock:
            if not self._dispatch_closed:
                if self._dispatcher is None:
                    self._dispatcher = _Dispatcher(f"sandbox-rpc-callbacks-{self.pid}")
                self._dispatcher.put(fn, args)
                return
        fn(*args)  # the bridge is gone and its dispatcher stopped: nothing else can be queued

    # --- the reader thread ------------------------------------------------------------------

    def _read_loop(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        try:
            while True:
                line = stdout.readline()
                if not line:
                    break
                if not line.strip():
                    continue
                try:
                    msg = json.loads(line)
                except ValueError:
                    logger.warning("sandbox-rpc: unparseable line from the bridge: %.200r", line)
                    continue
                for item in msg if isinstance(msg, list) else [msg]:
                    if isinstance(item, dict):
                        self._route(item)
        except Exception:  # pragma: no cover - keep the cleanup below whatever happens
            logger.exception("sandbox-rpc: reader thread failed")
        finally:
            self._finish_reading()

    def _route(self, msg: Message) -> None:
        method = msg.get("method")
        if isinstance(method, str):
            if "id" in msg:  # the bridge asks us something: we serve nothing
                self._reply_method_not_found(msg["id"], method)
            else:
                self._notification(method, msg.get("params") or {})
            return
        rid = msg.get("id")
        with self._lock:
            entry = self._pending.pop(rid, None) if isinstance(rid, int) else None
        if entry is None:
            if "error" in msg:
                logger.warning("sandbox-rpc: error without a request: %s", msg.get("error"))
            return
        done, hook = entry
        extra = None
        if hook is not None and "result" in msg:
            try:
                extra = hook(msg["result"])
            except Exception as e:  # a malformed result: report it to the caller
                logger.exception("sandbox-rpc: cannot handle the response to request %s", rid)
                msg = {"error": {"code": -32603, "message": f"malformed response: {e}", "data": {"kind": "Internal"}}}
        done(msg, extra)

    def _reply_method_not_found(self, rid: Any, method: str) -> None:
        try:
            self._write(
                self._encode(
                    {
                        "jsonrpc": "2.0",
                        "id": rid,
                        "error": {"code": -32601, "message": f"method not found: {method}", "data": {"kind": "MethodNotFound", "method": method}},
                    }
                )
            )
        except SandboxException:
            pass

    def _notification(self, method: str, params: Mapping[str, Any]) -> None:
        if method in ("commands.output", "pty.output", "commands.exit"):
            try:
                key = (str(params.get("sandboxId")), int(params["pid"]))
            except (KeyError, TypeError, ValueError):
                logger.warning("sandbox-rpc: %s without a pid: %s", method, params)
                return
            with self._lock:
                subs = list(self._subscribers.get(key, ()))
                if method == "commands.exit":
                    self._subscribers.pop(key, None)
            if method == "commands.output":
                stream = str(params.get("stream", "stdout"))
                data = params.get("data") or ""
                timestamp = params.get("timestamp")
                for sub in subs:
                    sub.on_output(stream, data, timestamp)
            elif method == "pty.output":
                raw = base64.b64decode(params.get("data") or "")
                for sub in subs:
                    sub.on_pty(raw)
            else:
                for sub in subs:
                    sub.on_exit(params)
        else:  # sandbox.exit needs nothing here: its processes' commands.exit say it all
            logger.debug("sandbox-rpc: ignoring notification %s", method)

    def _finish_reading(self) -> None:
        try:
            code = self._proc.wait(_REAP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait()
        self.returncode = code
        with self._lock:
            if self._closing:
                error: SandboxException = TimeoutException(SANDBOX_KILLED_MESSAGE)
            else:
                error = SandboxException(f"sandbox-rpc exited unexpectedly (exit code {code}){self._stderr_tail()}")
            error.kind = "BridgeClosed"
            self._closed_error = error
            pending = list(self._pending.values())
            self._pending.clear()
            subs = [s for group in self._subscribers.values() for s in group]
            self._subscribers.clear()
        closed = {"error": {"code": -32000, "message": str(error), "data": {"kind": "BridgeClosed"}}}
        for done, _ in pending:
            done(closed, None)
        for sub in subs:
            sub.on_close(_copy_error(error))
        with self._lock:
            self._dispatch_closed = True
            dispatcher = self._dispatcher
        if dispatcher is not None:
            dispatcher.stop()
        for stream in (self._proc.stdout, self._stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        with self._lock:
            self._exited.set()
            callbacks = list(self._exit_callbacks)
            self._exit_callbacks.clear()
        for callback in callbacks:
            callback()

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - 4096))
            tail = self._stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""
        return f": {tail}" if tail else ""


def _unwrap(msg: Message) -> Any:
    if "error" in msg:
        raise exception_from_error(msg["error"])
    return msg.get("result")


def _copy_error(error: SandboxException) -> SandboxException:
    copy = type(error)(*error.args)
    copy.code, copy.kind, copy.data = error.code, error.kind, error.data
    return copy


def _post(loop: asyncio.AbstractEventLoop, fut: "asyncio.Future[Any]", value: Any) -> None:
    """Resolves `fut` on its loop from any thread (silently, when the loop is gone)."""

    def resolve() -> None:
        if not fut.done():
            fut.set_result(value)

    try:
        loop.call_soon_threadsafe(resolve)
    except RuntimeError:  # loop closed
        pass
