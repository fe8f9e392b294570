// `sandbox.pty`: E2B's Pty module as thin calls over `pty.*`.

import { SandboxError } from './errors.js'
import { CommandHandle } from './handle.js'
import { encodeData, toSeconds } from './commands.js'

const DEFAULT_TIMEOUT_MS = 60_000

export class Pty {
  #bridge
  #sandboxId
  #commands
  #available

  /** @internal */
  constructor(bridge, sandboxId, commands, available) {
    this.#bridge = bridge
    this.#sandboxId = sandboxId
    this.#commands = commands
    this.#available = available
  }

  #request(method, params, options) {
    if (!this.#available) {
      return Promise.reject(new SandboxError('the bridge lacks the pty capability', { kind: 'Unsupported' }))
    }
    return this.#bridge.request(method, { sandboxId: this.#sandboxId, ...params }, options)
  }

  #handle(pid, onData, timeoutMs) {
    return new CommandHandle({
      bridge: this.#bridge,
      sandboxId: this.#sandboxId,
      pid,
      ops: { kill: (p) => this.kill(p) },
      onPty: onData,
      timeoutMs,
    })
  }

  /**
   * Starts a PTY (a login shell unless `cmd` is given). Output goes to
   * `onData` as bytes. Resolves a CommandHandle; `timeoutMs` defaults to 60 s.
   */
  async create({ cols, rows, onData, timeoutMs = DEFAULT_TIMEOUT_MS, user, cwd, envs, cmd } = {}) {
    let handle
    await this.#request(
      'pty.create',
      { cmd, cols, rows, envs, cwd, user, timeout: toSeconds(timeoutMs) },
      { onResult: ({ pid }) => (handle = this.#handle(pid, onData, 0)) },
    )
    return handle
  }

  /** Attaches to a running PTY; output produced from now on goes to `onData`. */
  async connect(pid, { onData, timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    let handle
    await this.#request('commands.connect', { pid }, { onResult: (r) => (handle = this.#handle(r.pid ?? pid, onData, timeoutMs)) })
    return handle
  }

  /** Sends keystrokes (bytes or a string, sent as UTF-8). */
  async sendInput(pid, data) {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    await this.#request('pty.sendInput', { pid, data: encodeData(bytes).data })
  }

  async resize(pid, { cols, rows }) {
    await this.#request('pty.resize', { pid, cols, rows })
  }

  /** Kills the PTY's process group; false when unknown or already exited. */
  async kill(pid) {
    return this.#commands.kill(pid)
  }
}
