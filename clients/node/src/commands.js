// `sandbox.commands`: E2B's Commands module over `commands.*`.

import { CommandExitError } from './errors.js'
import { CommandHandle, commandResult } from './handle.js'

const DEFAULT_TIMEOUT_MS = 60_000

/** Seconds on the wire; `0` means no timeout. */
export function toSeconds(ms) {
  return ms === undefined || ms === null ? undefined : ms / 1000
}

/** Strings go as UTF-8 text; bytes as base64. */
export function encodeData(data) {
  if (typeof data === 'string') return { data }
  return { data: Buffer.from(data.buffer ?? data, data.byteOffset ?? 0, data.byteLength).toString('base64'), encoding: 'base64' }
}

export class Commands {
  #bridge
  #sandboxId

  /** @internal */
  constructor(bridge, sandboxId) {
    this.#bridge = bridge
    this.#sandboxId = sandboxId
  }

  #request(method, params, options) {
    return this.#bridge.request(method, { sandboxId: this.#sandboxId, ...params }, options)
  }

  /** @internal operations a handle delegates to */
  get _ops() {
    return {
      kill: (pid) => this.kill(pid),
      sendStdin: (pid, data) => this.sendStdin(pid, data),
      closeStdin: (pid) => this.closeStdin(pid),
    }
  }

  /**
   * Runs `cmd` with `bash -c`. Foreground (default): resolves the
   * CommandResult, rejects with `CommandExitError` on a non-zero exit code.
   * `background: true`: resolves a `CommandHandle` at once.
   */
  async run(cmd, opts = {}) {
    const { background = false, envs, user, cwd, onStdout, onStderr, stdin, timeoutMs = DEFAULT_TIMEOUT_MS, tag } = opts
    const params = { cmd, envs, user, cwd, tag, timeout: toSeconds(timeoutMs) }
    if (stdin) params.stdin = true

    if (!background && !onStdout && !onStderr && !stdin) {
      // Plain foreground run: one request, one response, no notifications.
      const result = await this.#request('commands.run', { ...params, stream: false })
      const commandResultValue = commandResult(result, result.stdout, result.stderr)
      if (commandResultValue.exitCode !== 0) throw new CommandExitError(commandResultValue)
      return commandResultValue
    }

    // Streaming (or stdin-fed) runs go through a background process so that
    // the pid is known before its output arrives; the handle is routed while
    // the response line is handled, before any notification of that pid.
    let handle
    await this.#request(
      'commands.run',
      { ...params, background: true, stream: true },
      {
        onResult: ({ pid }) => {
          handle = new CommandHandle({
            bridge: this.#bridge,
            sandboxId: this.#sandboxId,
            pid,
            ops: this._ops,
            onStdout,
            onStderr,
          })
        },
      },
    )
    return background ? handle : handle.wait()
  }

  /** Running processes of this sandbox. */
  async list() {
    const { processes } = await this.#request('commands.list', {})
    return processes.map((p) => ({
      pid: p.pid,
      ...(p.tag !== undefined && p.tag !== null ? { tag: p.tag } : {}),
      cmd: p.cmd,
      args: p.args ?? [],
      envs: p.envs ?? {},
      cwd: p.cwd,
      isPty: p.isPty ?? false,
      startedAt: p.startedAt === undefined ? undefined : new Date(p.startedAt * 1000),
    }))
  }

  /**
   * Kills a process and its whole group (default SIGKILL). Resolves true when
   * it was killed, false when it had already exited or is unknown.
   */
  async kill(pid, { signal } = {}) {
    try {
      const { killed } = await this.#request('commands.kill', { pid, signal })
      return killed
    } catch (error) {
      if (error.kind === 'ProcessNotFound') return false
      throw error
    }
  }

  /** Writes `data` (string: UTF-8; Uint8Array: raw bytes) to the process's stdin. */
  async sendStdin(pid, data) {
    await this.#request('commands.sendStdin', { pid, ...encodeData(data) })
  }

  /** Closes the process's stdin (idempotent). */
  async closeStdin(pid) {
    await this.#request('commands.closeStdin', { pid })
  }

  /**
   * Attaches to a running (or exited, not yet waited) process. The handle's
   * `stdout`/`stderr` start with what the bridge kept; callbacks get only
   * what comes after. `timeoutMs` (default 60 s, 0 = none) bounds `wait()`;
   * the process is not killed when it passes.
   */
  async connect(pid, { onStdout, onStderr, timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    let handle
    await this.#request(
      'commands.connect',
      { pid },
      {
        onResult: (result) => {
          handle = new CommandHandle({
            bridge: this.#bridge,
            sandboxId: this.#sandboxId,
            pid: result.pid ?? pid,
            ops: this._ops,
            onStdout,
            onStderr,
            stdout: result.stdout ?? '',
            stderr: result.stderr ?? '',
            timeoutMs,
          })
        },
      },
    )
    return handle
  }
}
