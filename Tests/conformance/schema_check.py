"""Check what sandbox-rpc writes on stdout against ../../schema/.

    from schema_check import validate_server_message, RequestTable
    table = RequestTable()
    table.add(1, "commands.run", {"cmd": "echo hi"})
    validate_server_message(msg, table)        # raises SchemaViolation

`requests` may also be a plain dict {id: method} or {id: {"method": m, "params": p}}.
A response is checked against the result (or error) schema of the method of the request whose id it
echoes (the method -> definition map comes from schema/openrpc.json); a notification against the
params schema of its method; a batch item by item.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"
PROTOCOL_SCHEMA_PATH = SCHEMA_DIR / "protocol.schema.json"
OPENRPC_PATH = SCHEMA_DIR / "openrpc.json"

# Errors any request can get whatever its method, and errors a null id can carry.
ID_NULL_ERRORS = {(-32700, "ParseError"), (-32600, "InvalidRequest"), (-32600, "LimitExceeded")}
UNKNOWN_METHOD_ERRORS = {(-32600, "InvalidRequest"), (-32601, "MethodNotFound"), (-32602, "InvalidParams")}


class SchemaViolation(AssertionError):
    """A server message that does not fit schema/ (or answers no request)."""


def id_key(value: Any) -> tuple:
    """A key that tells 1, 1.0, True and "1" apart (they are different JSON-RPC ids), and 0.0 from
    -0.0 (the bridge echoes each as given, so a batch may hold both)."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", repr(value))
    if isinstance(value, str):
        return ("str", value)
    return ("other", json.dumps(value, sort_keys=True))


class RequestTable:
    """Requests sent (id -> method, params), with a count of sends and answers per id."""

    def __init__(self) -> None:
        self._entries: dict[tuple, dict] = {}

    def add(self, request_id: Any, method: Any, params: Any = None) -> None:
        entry = self._entries.setdefault(id_key(request_id), {"sent": 0, "answered": 0})
        entry.update(method=method, params=params)
        entry["sent"] += 1

    def get(self, request_id: Any) -> dict | None:
        return self._entries.get(id_key(request_id))

    def answered(self, request_id: Any) -> tuple[int, int]:
        """Count one answer for request_id; returns (sent, answered) after counting."""
        entry = self._entries.setdefault(id_key(request_id), {"sent": 0, "answered": 0, "method": None, "params": None})
        entry["answered"] += 1
        return entry["sent"], entry["answered"]

    def __contains__(self, request_id: Any) -> bool:
        return id_key(request_id) in self._entries


def _lookup(requests: Any, request_id: Any) -> dict | None:
    """The request entry {method, params} for request_id in a RequestTable or a plain mapping."""
    if requests is None:
        return None
    if isinstance(requests, RequestTable):
        entry = requests.get(request_id)
        return entry if entry and entry.get("sent") else None
    if not isinstance(requests, Mapping):
        raise TypeError("requests must be a RequestTable or a mapping id -> method")
    want = id_key(request_id)
    for key, value in requests.items():  # type-exact match: 1 and 1.0 and True differ
        if id_key(key) == want:
            if isinstance(value, str) or value is None:
                return {"method": value, "params": None}
            if isinstance(value, tuple):
                return {"method": value[0], "params": value[1] if len(value) > 1 else None}
            return {"method": value.get("method"), "params": value.get("params")}
    return None


class Protocol:
    """schema/protocol.schema.json + schema/openrpc.json, with one compiled validator per definition."""

    def __init__(self, schema_path: Path = PROTOCOL_SCHEMA_PATH, openrpc_path: Path = OPENRPC_PATH) -> None:
        self.schema = json.loads(schema_path.read_text())
        self.openrpc = json.loads(openrpc_path.read_text())
        Draft202012Validator.check_schema(self.schema)
        self.base = self.schema["$id"]
        self.registry = Registry().with_resource(self.base, Resource.from_contents(self.schema))
        self.defs = self.schema["$defs"]

        def def_name(ref: str) -> str:
            prefix = "protocol.schema.json#/$defs/"
            if not ref.startswith(prefix):
                raise ValueError(f"openrpc.json: unexpected $ref {ref!r}")
            name = ref[len(prefix):]
            if "/" not in name and name not in self.defs:
                raise ValueError(f"openrpc.json refers to missing definition {name!r}")
            return name

        error_components = self.openrpc["components"]["errors"]
        self.methods: dict[str, dict] = {}
        self.server_notifications: dict[str, str] = {}
        self.client_notifications: dict[str, str] = {}
        for m in self.openrpc["methods"]:
            params_def = def_name(m["x-paramsSchema"]["$ref"])
            if m.get("x-direction") == "server-to-client":
                self.server_notifications[m["name"]] = params_def
            elif "result" not in m:
                self.client_notifications[m["name"]] = params_def
            else:
                errors = set()
                for e in m.get("errors", []):
                    comp = error_components[e["$ref"].rsplit("/", 1)[1]]
                    errors.add((comp["code"], comp["data"]["kind"]))
                self.methods[m["name"]] = {
                    "params": params_def,
                    "result": def_name(m["result"]["schema"]["$ref"]),
                    "errors": errors,
                }
        # (code, kind) -> the definition of that error object
        self.error_defs: dict[tuple[int, str], str] = {}
        for branch in self.defs["ErrorObject"]["oneOf"]:
            name = branch["$ref"].rsplit("/", 1)[1]
            props = self.defs[name]["properties"]
            data_def = props["data"]["$ref"].rsplit("/", 1)[1]
            kind = self.defs[data_def]["properties"]["kind"]["const"]
            self.error_defs[(props["code"]["const"], kind)] = name
        # The shape cache below is exact only while `data` is a plain string in the schema.
        data_schema = self.defs["CommandsOutputParams"]["properties"]["data"]
        self._fast_output = set(data_schema) <= {"type", "description"} and data_schema.get("type") == "string"
        self._good_shapes: set[tuple] = set()

    @functools.lru_cache(maxsize=None)
    def validator(self, def_name: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{self.base}#/$defs/{def_name}"}, registry=self.registry)

    def problems(self, def_name: str, instance: Any, where: str) -> list[str]:
        out = []
        for err in sorted(self.validator(def_name).iter_errors(instance), key=lambda e: list(e.absolute_path)):
            path = "/".join(str(p) for p in err.absolute_path)
            out.append(f"{where}{'/' + path if path else ''}: {err.message[:400]} (schema {def_name})")
        return out[:10]

    # ------------------------------------------------------------------ server messages
    def _output_shape(self, msg: Any) -> tuple | None:
        """For a commands.output notification: everything its schema can tell apart, data's content
        excluded (the schema constrains `data` only to be a string). Messages of one shape either all
        fit or all do not, so the harness validates each shape once: a 1 GB stream stays cheap."""
        if not self._fast_output or not isinstance(msg, dict) or msg.get("method") != "commands.output":
            return None
        p = msg.get("params")
        if not isinstance(p, dict):
            return None
        ts = p.get("timestamp")
        return (tuple(msg), msg.get("jsonrpc"), tuple(p), p.get("sandboxId"), type(p.get("pid")).__name__, p.get("pid"),
                p.get("stream"), type(p.get("data")).__name__, type(ts).__name__,
                isinstance(ts, (int, float)) and not isinstance(ts, bool) and ts >= 0)

    def check_server_message(self, msg: Any, requests: Any = None) -> list[str]:
        """Problems with one message the server wrote (empty list: it fits)."""
        shape = self._output_shape(msg)
        if shape is not None and shape in self._good_shapes:
            return []
        problems = self._check_server_message(msg, requests)
        if shape is not None and not problems and len(self._good_shapes) < 100_000:
            self._good_shapes.add(shape)
        return problems

    def _check_server_message(self, msg: Any, requests: Any = None) -> list[str]:
        if isinstance(msg, list):
            if not msg:
                return ["an empty array on stdout (a batch answer has at least one response)"]
            out = []
            for i, item in enumerate(msg):
                if not isinstance(item, dict) or "method" in item:
                    out.append(f"batch[{i}]: a batch answer holds responses only, got {json.dumps(item)[:200]}")
                    continue
                out += self._check_response(item, requests, f"batch[{i}]")
            return out
        if not isinstance(msg, dict):
            return [f"not a JSON-RPC message: {json.dumps(msg)[:200]}"]
        if "method" in msg:
            if "id" in msg:
                return [f"the server sent a request (method {msg.get('method')!r} with id): the protocol has no server-to-client requests"]
            return self._check_notification(msg)
        return self._check_response(msg, requests, "response")

    def _check_notification(self, msg: dict) -> list[str]:
        out = self.problems("Notification", msg, "notification")
        method = msg.get("method")
        params_def = self.server_notifications.get(method)
        if params_def is None:
            return out + [f"notification: unknown server notification method {method!r}"]
        return out + self.problems(params_def, msg.get("params"), f"{method}.params")

    def _check_response(self, msg: dict, requests: Any, where: str) -> list[str]:
        if "error" in msg and "result" not in msg:
            out = self.problems("ErrorResponse", msg, where)
            if out:
                # Point at the branch for its (code, kind) for a readable message.
                err = msg.get("error")
                if isinstance(err, dict):
                    kind = err.get("data", {}).get("kind") if isinstance(err.get("data"), dict) else None
                    branch = self.error_defs.get((err.get("code"), kind))
                    if branch is None:
                        out = [f"{where}.error: no error with code {err.get('code')!r} and data.kind {kind!r} in schema/"] + out[:1]
                    else:
                        detail = self.problems(branch, err, f"{where}.error")
                        out = detail or out
            return out + self._check_error_for_request(msg, requests, where)
        if "result" in msg and "error" not in msg:
            out = self.problems("SuccessResponse", msg, where)
            if out or "id" not in msg:
                return out
            entry = _lookup(requests, msg["id"])
            if entry is None:
                if requests is None:
                    return out
                return [f"{where}: result for id {json.dumps(msg['id'])} which no request sent had"]
            info = self.methods.get(entry.get("method"))
            if info is None:
                return [f"{where}: a result for method {entry.get('method')!r}, which has no result in schema/"]
            result_def = info["result"]
            if entry.get("method") == "commands.run" and isinstance(entry.get("params"), dict):
                result_def = "BackgroundRunResult" if entry["params"].get("background") is True else "CommandResult"
            return self.problems(result_def, msg["result"], f"{where}.result[{entry.get('method')}]")
        return self.problems("Response", msg, where) or [f"{where}: neither a result nor an error"]

    def _check_error_for_request(self, msg: dict, requests: Any, where: str) -> list[str]:
        if requests is None or "id" not in msg or not isinstance(msg.get("error"), dict):
            return []
        err = msg["error"]
        kind = err.get("data", {}).get("kind") if isinstance(err.get("data"), dict) else None
        pair = (err.get("code"), kind)
        entry = _lookup(requests, msg["id"])
        if msg["id"] is None and pair in ID_NULL_ERRORS:
            return []
        if entry is None:
            return [f"{where}: error {pair} for id {json.dumps(msg['id'])} which no request sent had"]
        info = self.methods.get(entry.get("method"))
        allowed = info["errors"] if info else UNKNOWN_METHOD_ERRORS
        if pair not in allowed and pair not in {(-32600, "InvalidRequest")}:
            return [f"{where}: error {pair} is not one schema/openrpc.json lists for {entry.get('method')!r}"]
        return []


@functools.lru_cache(maxsize=None)
def protocol() -> Protocol:
    return Protocol()


def check_server_message(msg: Any, request_method_by_id: Any = None) -> list[str]:
    """Problems with one message the server wrote; [] when it fits schema/."""
    return protocol().check_server_message(msg, request_method_by_id)


def validate_server_message(msg: Any, request_method_by_id: Any = None) -> None:
    """Raise SchemaViolation unless msg (a parsed line of the server's stdout) fits schema/.

    request_method_by_id: RequestTable, or a mapping id -> method (or -> {"method", "params"}).
    With None, responses are checked as envelopes only (not against a method's result)."""
    problems = check_server_message(msg, request_method_by_id)
    if problems:
        raise SchemaViolation("; ".join(problems))


def parse_line(line: bytes) -> Any:
    """Parse one stdout line as strict JSON (UTF-8, no NaN/Infinity); raises ValueError."""
    text = line.decode("utf-8")  # UnicodeDecodeError is a ValueError

    def reject(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    value = json.loads(text, parse_constant=reject)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("non-finite number")
    return value
