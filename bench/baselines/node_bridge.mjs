#!/usr/bin/env node
// Baseline bridge: what a competent Node engineer would write with child_process.spawn.
//
// Speaks the subset of the sandbox-rpc wire protocol (shared/PROTOCOL.md) that bench/run uses:
// initialize, ping, sandbox.create (isolation "none" only), sandbox.kill, commands.run
// (foreground with or without stream, background with stream), commands.kill, commands.wait,
// shutdown. EOF on stdin: in-flight requests get --eof-grace seconds (default 3), then
// everything is killed and the process exits 0.
//
// Deliberately plain: readline for requests, JSON.stringify, spawn("bash", ["-c", cmd],
// {detached: true}), StringDecoder for UTF-8, pause the children's pipes while stdout is full.
// It is a yardstick, not a product.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, statSync } from "node:fs";
import { tmpdir, userInfo, constants as osConstants } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { StringDecoder } from "node:string_decoder";

const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const USER = userInfo().username;

let eofGrace = 3;
{
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write("usage: node_bridge.mjs [--eof-grace SECONDS]\n" +
      "Node baseline bridge for bench/run (line-delimited JSON-RPC 2.0 on stdin/stdout).\n");
    process.exit(0);
  }
  const i = args.indexOf("--eof-grace");
  if (i >= 0) eofGrace = Number(args[i + 1]);
}

class RpcError extends Error {
  constructor(code, message, data) {
    super(message);
    this.code = code;
    this.data = data;
  }
}
const invalidParams = (field, reason) =>
  new RpcError(-32602, `invalid params: ${field}: ${reason}`, { kind: "InvalidParams", field, reason });

// ---- stdout with backpressure -------------------------------------------------------------
const out = process.stdout;
let stdoutFull = false;
const pausedStreams = new Set();
out.on("drain", () => {
  stdoutFull = false;
  for (const s of pausedStreams) s.resume();
  pausedStreams.clear();
});
out.on("error", () => process.exit(0));

function send(msg) {
  if (!out.write(JSON.stringify(msg) + "\n")) stdoutFull = true;
}
const respond = (id, result) => send({ jsonrpc: "2.0", id, result });
const respondError = (id, e) =>
  send({ jsonrpc: "2.0", id, error: { code: e.code, message: e.message, data: e.data } });

// ---- kept output (first ceil(M/2), last floor(M/2) bytes) ----------------------------------
class Kept {
  constructor(limit) {
    this.headMax = Math.ceil(limit / 2);
    this.tailMax = Math.floor(limit / 2);
    this.head = [];
    this.headLen = 0;
    this.tail = [];
    this.tailLen = 0;
    this.dropped = 0;
  }
  add(buf) {
    if (this.headLen < this.headMax) {
      const n = Math.min(this.headMax - this.headLen, buf.length);
      this.head.push(buf.subarray(0, n));
      this.headLen += n;
      buf = buf.subarray(n);
    }
    if (buf.length === 0) return;
    if (this.tailMax === 0) {
      this.dropped += buf.length;
      return;
    }
    this.tail.push(buf);
    this.tailLen += buf.length;
    while (this.tail.length > 1 && this.tailLen - this.tail[0].length >= this.tailMax) {
      const first = this.tail.shift();
      this.tailLen -= first.length;
      this.dropped += first.length;
    }
  }
  finish() {
    let tail = Buffer.concat(this.tail);
    if (tail.length > this.tailMax) {
      this.dropped += tail.length - this.tailMax;
      tail = tail.subarray(tail.length - this.tailMax);
    }
    return [Buffer.concat([...this.head, tail]), this.dropped];
  }
}

// ---- sandboxes and processes ---------------------------------------------------------------
const baseDir = mkdtempSync(join(tmpdir(), "node-bridge-"));
const sandboxes = new Map();
let counter = 0;

function makeSandbox(id) {
  if (id === undefined) id = `sbx-${++counter}`;
  const home = join(baseDir, id);
  mkdirSync(home, { recursive: true });
  const sb = { id, home, procs: new Map(), envs: {} };
  sandboxes.set(id, sb);
  return sb;
}

function getSandbox(params) {
  const id = params.sandboxId;
  if (id === undefined || id === null) return sandboxes.get("default") ?? makeSandbox("default");
  const sb = sandboxes.get(id);
  if (!sb) throw new RpcError(-32001, `sandbox not found: ${id}`, { kind: "SandboxNotFound", sandboxId: id });
  return sb;
}

function findProc(params) {
  const sb = getSandbox(params);
  const pid = params.pid;
  if (!Number.isInteger(pid)) throw invalidParams("pid", "must be an integer");
  const p = sb.procs.get(pid);
  if (!p) throw new RpcError(-32002, `process not found: ${pid}`, { kind: "ProcessNotFound", pid });
  return p;
}

function killpg(pid, sig) {
  try {
    process.kill(-pid, sig);
  } catch {}
}

function resultOf(p) {
  const res = { pid: p.pid };
  const truncated = {};
  for (const name of ["stdout", "stderr"]) {
    const [buf, dropped] = p.kept[name].finish();
    res[name] = buf.toString("utf8");
    truncated[name] = dropped;
  }
  if (p.signal) {
    res.exitCode = 128 + osConstants.signals[p.signal];
    res.signal = p.signal;
  } else {
    res.exitCode = p.code;
  }
  if (truncated.stdout || truncated.stderr) res.truncated = truncated;
  return res;
}

function pump(p, name, stream) {
  const kept = p.kept[name];
  const decoder = new StringDecoder("utf8");
  const emit = (text) => {
    if (!text) return;
    send({
      jsonrpc: "2.0", method: "commands.output",
      params: { sandboxId: p.sandbox.id, pid: p.pid, stream: name, data: text, timestamp: Date.now() / 1000 },
    });
    if (stdoutFull) {
      stream.pause();
      pausedStreams.add(stream);
    }
  };
  stream.on("data", (chunk) => {
    kept.add(chunk);
    if (p.stream) emit(decoder.write(chunk));
  });
  stream.on("end", () => {
    if (p.stream) emit(decoder.end());
  });
}

function startProcess(sb, params) {
  const cmd = params.cmd;
  if (typeof cmd !== "string") throw invalidParams("cmd", "must be a string");
  const background = Boolean(params.background ?? false);
  const stream = Boolean(params.stream ?? background);
  const timeout = params.timeout ?? (background ? 0 : 60);
  const maxOutput = params.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const cwd = params.cwd == null ? sb.home : join(sb.home, params.cwd);
  try {
    if (!statSync(cwd).isDirectory()) throw new Error();
  } catch {
    throw new RpcError(-32005, `no such directory: ${cwd}`, { kind: "FileNotFound", path: cwd });
  }
  const env = {
    PATH, HOME: sb.home, USER, LANG: "C.UTF-8", TERM: "dumb", SHELL: "/bin/bash", PAGER: "cat",
    GIT_PAGER: "cat", GIT_TERMINAL_PROMPT: "0", DEBIAN_FRONTEND: "noninteractive",
    ...sb.envs, ...(params.envs ?? {}),
  };
  const child = spawn("bash", ["-c", cmd], { detached: true, stdio: ["ignore", "pipe", "pipe"], cwd, env });
  const p = {
    sandbox: sb, child, pid: child.pid, cmd, stream, background,
    kept: { stdout: new Kept(maxOutput), stderr: new Kept(maxOutput) },
    code: null, signal: null, exited: false, timedOut: false, killedBySandbox: false,
  };
  p.reaped = new Promise((resolve) => child.once("exit", () => { p.exited = true; resolve(); }));
  p.done = new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      p.code = code;
      p.signal = signal;
      if (p.timer) clearTimeout(p.timer);
      resolve(resultOf(p));
    });
  });
  p.done.catch(() => {});
  // With stream on, commands.exit follows the outputs; registered first, so for a foreground
  // run it is written before the response.
  p.done.then((res) => {
    if (!p.stream) return;
    const exit = { sandboxId: sb.id, pid: p.pid, exitCode: res.exitCode };
    if (res.signal) exit.signal = res.signal;
    if (p.timedOut) exit.error = "Timeout";
    else if (p.killedBySandbox) exit.error = "SandboxKilled";
    send({ jsonrpc: "2.0", method: "commands.exit", params: exit });
  }, () => {});
  if (timeout > 0) {
    p.timer = setTimeout(() => {
      p.timedOut = true;
      killpg(p.pid, "SIGKILL");
    }, timeout * 1000);
  }
  pump(p, "stdout", child.stdout);
  pump(p, "stderr", child.stderr);
  sb.procs.set(p.pid, p);
  if (sb.procs.size > 1024 + 4096) forgetExited(sb);
  return p;
}

function forgetExited(sb) {
  const exited = [...sb.procs.values()].filter((p) => p.exited);
  for (const p of exited.slice(0, -1024)) sb.procs.delete(p.pid);
}

async function killSandbox(sb) {
  const running = [...sb.procs.values()].filter((p) => !p.exited);
  for (const p of running) {
    p.killedBySandbox = true;
    killpg(p.pid, "SIGKILL");
  }
  await Promise.all(running.map((p) => p.reaped));
}

async function killAll() {
  for (const sb of sandboxes.values()) await killSandbox(sb);
}

function exitNow() {
  rmSync(baseDir, { recursive: true, force: true });
  out.write("", () => process.exit(0));
}

// ---- methods -------------------------------------------------------------------------------
const methods = {
  ping: async () => ({}),
  initialize: async () => ({
    serverInfo: { name: "node-bridge", version: "0" }, protocolVersion: 1,
    capabilities: { isolation: ["none"], pty: false, files: false },
  }),
  "commands.run": async (params, id) => {
    const sb = getSandbox(params);
    const p = startProcess(sb, params);
    if (p.background) {
      respond(id, { pid: p.pid }); // before any notification of that pid
      return undefined;
    }
    const res = await p.done;
    if (p.timedOut) throw new RpcError(-32003, "command timed out", { kind: "Timeout", ...res });
    return res;
  },
  "commands.kill": async (params) => {
    const p = findProc(params);
    const sig = params.signal ?? "SIGKILL";
    if (!(sig in osConstants.signals)) throw invalidParams("signal", `unknown signal ${sig}`);
    if (p.exited) return { killed: false };
    killpg(p.pid, sig);
    if (sig === "SIGKILL") await p.reaped;
    return { killed: true };
  },
  "commands.wait": async (params) => {
    const p = findProc(params);
    const timeout = params.timeout ?? 0;
    if (!timeout) return await p.done;
    let timer;
    const expired = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new RpcError(-32003, "wait timed out",
        { kind: "Timeout", pid: p.pid, stdout: "", stderr: "", exitCode: null })), timeout * 1000);
    });
    try {
      return await Promise.race([p.done, expired]);
    } finally {
      clearTimeout(timer);
    }
  },
  "sandbox.create": async (params) => {
    const isolation = params.isolation ?? "auto";
    if (isolation !== "auto" && isolation !== "none") {
      throw new RpcError(-32011, `isolation ${isolation} is not available`,
        { kind: "Unsupported", reason: `isolation ${isolation}` });
    }
    const sb = makeSandbox();
    sb.envs = { ...(params.envs ?? {}) };
    return { sandboxId: sb.id, isolation: "none", home: sb.home };
  },
  "sandbox.kill": async (params) => {
    const sb = sandboxes.get(params.sandboxId ?? "default");
    if (!sb) return { killed: false };
    sandboxes.delete(sb.id);
    await killSandbox(sb);
    return { killed: true };
  },
  shutdown: async (params, id) => {
    await killAll();
    respond(id, {});
    exitNow();
    return undefined;
  },
};

// ---- dispatch ------------------------------------------------------------------------------
let inFlight = 0;
let eof = false;
let onIdle = null;

async function handle(msg) {
  const isRequest = Object.hasOwn(msg, "id");
  const id = msg.id;
  try {
    if (typeof msg.method !== "string") {
      throw new RpcError(-32600, "invalid request", { kind: "InvalidRequest", reason: "method must be a string" });
    }
    const params = msg.params ?? {};
    if (typeof params !== "object" || Array.isArray(params)) throw invalidParams("params", "must be an object");
    const fn = methods[msg.method];
    if (!fn) {
      if (!isRequest) return;
      throw new RpcError(-32601, `method not found: ${msg.method}`, { kind: "MethodNotFound", method: msg.method });
    }
    const result = await fn(params, id);
    if (result !== undefined && isRequest) respond(id, result);
  } catch (e) {
    if (!isRequest) return;
    if (e instanceof RpcError) respondError(id, e);
    else respondError(id, new RpcError(-32603, `internal error: ${e}`, { kind: "Internal", reason: String(e) }));
  }
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  if (!line.trim()) return;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    send({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse error", data: { kind: "ParseError", reason: String(e) } } });
    return;
  }
  if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
    send({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "invalid request", data: { kind: "InvalidRequest", reason: "not an object" } } });
    return;
  }
  inFlight++;
  handle(msg).finally(() => {
    inFlight--;
    if (inFlight === 0 && onIdle) onIdle();
  });
});
rl.on("close", () => {
  eof = true;
  let finished = false;
  const finish = async () => {
    if (finished) return;
    finished = true;
    await killAll();
    exitNow();
  };
  if (inFlight === 0) return void finish();
  const timer = setTimeout(finish, eofGrace * 1000);
  onIdle = () => {
    clearTimeout(timer);
    finish();
  };
});
process.on("SIGTERM", () => killAll().then(exitNow));
process.on("SIGINT", () => killAll().then(exitNow));
