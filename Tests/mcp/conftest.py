"""Harness for black-box tests of `sandbox-rpc mcp`.

Two ways in: the official `mcp` Python SDK's stdio client (whichever version is installed, 1.x
or 2.x; with 2.x both the `initialize` handshake and the 2026-07-28 `server/discover` era), and
raw pipes for what an SDK would never send.

Binary: $SANDBOX_RPC_BIN, default .build/debug/sandbox-rpc of this checkout. Missing binary or
SDK: the tests are skipped, except with CI=true, where they fail.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import select
import subprocess
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("SANDBOX_RPC_BIN") or str(REPO / ".build" / "debug" / "sandbox-rpc")
IN_CI = os.environ.get("CI") == "true"

try:
    MCP_VERSION = importlib.metadata.version("mcp")
except importlib.metadata.PackageNotFoundError:
    MCP_VERSION = None
MCP_MAJOR = int(MCP_VERSION.split(".")[0]) if MCP_VERSION else 0

TOOLS = {
    "run_command", "start_command", "read_output", "send_input", "kill_process", "list_processes",
    "read_file", "write_file", "list_files", "create_sandbox", "kill_sandbox",
}


def pytest_report_header(config):
    return f"sandbox-rpc: {BIN}; mcp SDK: {MCP_VERSION or 'not installed'}"


def require(condition: bool, reason: str) -> None:
    if not condition:
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The sandbox's home (--cwd), so tests can look at what commands leave there."""
    require(os.access(BIN, os.X_OK), f"no sandbox-rpc binary at {BIN} (run swift build)")
    path = tmp_path / "home"
    path.mkdir()
    return path


# --------------------------------------------------------------------------- SDK sessions
def sdk_modes() -> list[str]:
    """How the SDK connects: the handshake always; the 2026-07-28 era with SDKs that speak it."""
    return ["handshake", "modern"] if MCP_MAJOR >= 2 else ["handshake"]


@pytest.fixture(params=sdk_modes())
def mode(request) -> str:
    require(MCP_VERSION is not None, "the mcp Python SDK is not installed (pip install mcp)")
    return request.param


def dump(model) -> dict[str, Any]:
    """A result as it was on the wire (camelCase, absent fields left out), in 1.x and 2.x alike."""
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")


class Session:
    """The few calls the tests make, over 1.x's ClientSession, 2.x's ClientSession, or 2.x's Client."""

    def __init__(self, target, mode: str, protocol_version: str):
        self.target = target
        self.mode = mode
        self.protocol_version = protocol_version
        self.output_schemas: dict[str, dict] = {}

    async def tools(self) -> list[dict[str, Any]]:
        listed = [dump(tool) for tool in (await self.target.list_tools()).tools]
        self.output_schemas = {tool["name"]: tool.get("outputSchema") for tool in listed}
        return listed

    async def call(self, name: str, arguments: dict | None = None, progress=None) -> dict[str, Any]:
        """Calls a tool; the result's structuredContent is checked against the tool's outputSchema."""
        if not self.output_schemas:
            await self.tools()
        kwargs = {"progress_callback": progress} if progress else {}
        result = dump(await self.target.call_tool(name, arguments or {}, **kwargs))
        assert result["content"] and result["content"][0]["type"] == "text", result
        if "structuredContent" in result:
            validate(result["structuredContent"], self.output_schemas[name])
        else:
            assert result.get("isError"), f"{name} returned no structuredContent: {result}"
        return result


def validate(instance, schema) -> None:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(instance)


def server_params(home: Path, extra: list[str]):
    from mcp import StdioServerParameters

    return StdioServerParameters(command=BIN, args=["mcp", "--cwd", str(home), *extra])


@asynccontextmanager
async def connect(mode: str, home: Path, *extra: str):
    """A connected session to a fresh `sandbox-rpc mcp --cwd HOME EXTRA…`."""
    params = server_params(home, list(extra))
    if mode == "modern":
        from mcp.client import Client

        async with Client(params, mode="auto") as client:
            yield Session(client, mode, client.protocol_version)
        return
    from mcp import ClientSession
    from mcp.client.stdio import stdio_client

    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            result = await session.initialize()
            version = dump(result)["protocolVersion"]
            yield Session(session, mode, version)


# --------------------------------------------------------------------------- raw pipes
class RawServer:
    """`sandbox-rpc mcp` on pipes: send lines, read lines, check that stdout is only JSON-RPC."""

    def __init__(self, home: Path, *extra: str):
        self.proc = subprocess.Popen(
            [BIN, "mcp", "--cwd", str(home), *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.buffer = b""
        self.next_id = 100

    def send(self, message: dict | str) -> None:
        line = message if isinstance(message, str) else json.dumps(message)
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict | None = None) -> int:
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return self.next_id

    def read(self, timeout: float = 10.0) -> dict | None:
        """The next message, or None when nothing came within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        message = json.loads(line)
        assert message.get("jsonrpc") == "2.0", message
        return message

    def response(self, request_id: int, timeout: float = 10.0) -> dict:
        """The response to `request_id`; notifications before it are kept in `self.notifications`."""
        self.notifications = []
        while True:
            message = self.read(timeout)
            assert message is not None, f"no response to {request_id}"
            if message.get("id") == request_id:
                return message
            assert "id" not in message, f"unexpected response {message}"
            # Only MCP's own notifications: never the sandbox protocol's commands.output & co.
            assert message["method"].startswith("notifications/"), message
            self.notifications.append(message)

    def call(self, method: str, params: dict | None = None) -> dict:
        return self.response(self.request(method, params))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


@pytest.fixture
def raw(home: Path):
    servers: list[RawServer] = []

    def start(*extra: str) -> RawServer:
        server = RawServer(home, *extra)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while is_running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_for_file(path: Path, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


async def wait_gone_async(pid: int, timeout: float = 5.0) -> bool:
    """wait_gone without blocking the event loop (the SDK's writer must run meanwhile)."""
    import anyio

    with anyio.move_on_after(timeout):
        while is_running(pid):
            await anyio.sleep(0.05)
    return not is_running(pid)


async def wait_for_file_async(path: Path, timeout: float = 5.0) -> str:
    import anyio

    with anyio.move_on_after(timeout):
        while not (path.exists() and path.read_text().strip()):
            await anyio.sleep(0.05)
    assert path.exists(), f"{path} never appeared"
    return path.read_text().strip()
