// CommandHandle: one process seen through its notifications. Used for
// background commands, connected commands and PTYs.

import { CommandExitError, SandboxError, makeError } from './errors.js'

/** Builds the E2B-shaped CommandResult from an exit (notification or result). */
export function commandResult({ exitCode, signal, error }, stdout, stderr) {
  return {
    exitCode,
    error: error ?? (signal ? `signal: ${signal}` : undefined),
    stdout,
    stderr,
  }
}

/** The error a `commands.exit` whose `error` is a wire kind stands for, if any. */
function exitFailure(exit, stdout, stderr) {
  if (exit.error === 'Timeout') {
    const how = exit.signal ? ` (killed with ${exit.signal})` : ''
    return makeError('Timeout', `command ${exit.pid} timed out${how}`, {
      data: { kind: 'Timeout', pid: exit.pid, stdout, stderr, exitCode: exit.exitCode, signal: exit.signal },
    })
  }
  if (exit.error === 'SandboxKilled') {
    return makeError(
      'SandboxKilled',
      `command ${exit.pid} was killed with its sandbox: the sandbox was killed or reached its end of life`,
      { data: { kind: 'SandboxKilled', sandboxId: exit.sandboxId, pid: exit.pid } },
    )
  }
  return undefined
}

/**
 * Handle of a running command (E2B's `CommandHandle`). `stdout`/`stderr` grow
 * live; `exitCode` is undefined until the process has exited.
 */
export class CommandHandle {
  #bridge
  #sandboxId
  #ops
  #onStdout
  #onStderr
  #onPty
  #stdout
  #stderr
  #result
  #failure
  #callbackError
  #callbackTail = null
  #disconnected = false
  #settled = false
  #resolveDone
  #done
  #releaseHold = () => {}
  #timer

  /**
   * @internal Created by `Commands` and `Pty`; not for direct use.
   * @param {object} init
   */
  constructor({ bridge, sandboxId, pid, ops, onStdout, onStderr, onPty, stdout = '', stderr = '', timeoutMs = 0 }) {
    this.#bridge = bridge
    this.#sandboxId = sandboxId
    /** Process id, the sandbox's own. */
    this.pid = pid
    this.#ops = ops
    this.#onStdout = onStdout
    this.#onStderr = onStderr
    this.#onPty = onPty
    this.#stdout = stdout
    this.#stderr = stderr
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve))
    bridge.route(sandboxId, pid, this)
    if (onStdout || onStderr || onPty) this.#releaseHold = bridge.hold()
    if (timeoutMs > 0) {
      this.#timer = setTimeout(() => this.#onClientTimeout(timeoutMs), timeoutMs)
      this.#timer.unref?.()
    }
  }

  /** Everything the command wrote on stdout so far. */
  get stdout() {
    return this.#stdout
  }

  /** Everything the command wrote on stderr so far. */
  get stderr() {
    return this.#stderr
  }

  /** Exit code, undefined while the command runs. */
  get exitCode() {
    return this.#result?.exitCode
  }

  /** Error message of the exit ("Timeout", "signal: SIGKILL", ...), if any. */
  get error() {
    return this.#result?.error
  }

  /**
   * Waits for the command to exit. Resolves its CommandResult; rejects with
   * `CommandExitError` on a non-zero exit code, `TimeoutError` when it timed
   * out or its sandbox was killed.
   */
  async wait() {
    const release = this.#settled ? () => {} : this.#bridge.hold()
    try {
      await this.#done
      while (this.#callbackTail) await this.#callbackTail
    } finally {
      release()
    }
    if (this.#callbackError) throw this.#callbackError
    if (this.#failure) throw this.#failure
    if (this.#result.exitCode !== 0) throw new CommandExitError(this.#result)
    return this.#result
  }

  /** Kills the command (SIGKILL, whole process group). False if it had already exited. */
  async kill() {
    return this.#ops.kill(this.pid)
  }

  /** Writes to the command's stdin (it must have been started with `stdin: true`). */
  async sendStdin(data) {
    if (!this.#ops.sendStdin) throw new SandboxError('this handle has no stdin', { kind: 'Unsupported' })
    return this.#ops.sendStdin(this.pid, data)
  }

  /** Closes the command's stdin (EOF). */
  async closeStdin() {
    if (!this.#ops.closeStdin) throw new SandboxError('this handle has no stdin', { kind: 'Unsupported' })
    return this.#ops.closeStdin(this.pid)
  }

  /**
   * Stops receiving output; the command keeps running and its output is kept
   * by the bridge. Reconnect with `commands.connect(pid)`. After this,
   * `wait()` rejects and callbacks are not called again.
   */
  async disconnect() {
    if (this.#disconnected) return
    this.#disconnected = true
    const exited = this.#settled
    this.#finish(undefined, new SandboxError(`disconnected from command ${this.pid}`, { kind: 'Disconnected' }))
    if (exited) return
    try {
      await this.#bridge.request('commands.disconnect', { sandboxId: this.#sandboxId, pid: this.pid })
    } catch (error) {
      // Already gone (or the bridge is): nothing left to disconnect from.
      if (!['ProcessNotFound', 'ProcessNotRunning', 'BridgeClosed', 'BridgeExited'].includes(error.kind)) throw error
    }
  }

  /** @internal called by the bridge's router */
  onNotification(method, params) {
    if (this.#disconnected || this.#settled) return
    if (method === 'commands.output') {
      const data = params.data
      if (typeof data !== 'string' || data === '') return
      if (params.stream === 'stderr') {
        this.#stderr += data
        this.#callback(this.#onStderr, data)
      } else {
        this.#stdout += data
        this.#callback(this.#onStdout, data)
      }
    } else if (method === 'pty.output') {
      if (!params.data) return
      const bytes = new Uint8Array(Buffer.from(params.data, 'base64'))
      this.#callback(this.#onPty, bytes)
    } else if (method === 'commands.exit') {
      const result = commandResult(params, this.#stdout, this.#stderr)
      this.#finish(result, exitFailure(params, this.#stdout, this.#stderr))
    }
  }

  /** @internal called when the bridge process is gone */
  onBridgeClosed(error, shuttingDown) {
    if (this.#settled) return
    const failure = shuttingDown
      ? makeError('SandboxKilled', `command ${this.pid} was killed with its sandbox: the sandbox was killed or reached its end of life`, {
          data: { kind: 'SandboxKilled', sandboxId: this.#sandboxId, pid: this.pid },
        })
      : error
    this.#finish(undefined, failure)
  }

  #onClientTimeout(timeoutMs) {
    if (this.#settled) return
    const failure = makeError('Timeout', `command ${this.pid} did not exit within ${timeoutMs} ms (it keeps running)`, {
      data: { kind: 'Timeout', pid: this.pid, stdout: this.#stdout, stderr: this.#stderr, exitCode: null },
    })
    this.#finish(undefined, failure)
    this.#bridge.request('commands.disconnect', { sandboxId: this.#sandboxId, pid: this.pid }).catch(() => {})
  }

  #finish(result, failure) {
    if (this.#settled) return
    this.#settled = true
    this.#result = result
    this.#failure = failure
    clearTimeout(this.#timer)
    this.#bridge.unroute(this.#sandboxId, this.pid, this)
    this.#releaseHold()
    this.#resolveDone()
  }

  /**
   * Calls an output callback. Callbacks run in arrival order; one that returns
   * a promise is awaited before the next is called. A throwing callback makes
   * `wait()` reject with its error.
   */
  #callback(fn, arg) {
    if (!fn) return
    const call = () => {
      if (this.#disconnected || this.#callbackError) return undefined
      try {
        const returned = fn(arg)
        if (returned && typeof returned.then === 'function') {
          return Promise.resolve(returned).catch((error) => this.#callbackFailed(error))
        }
      } catch (error) {
        this.#callbackFailed(error)
      }
      return undefined
    }
    const pending = this.#callbackTail ? this.#callbackTail.then(call) : call()
    if (!pending) return
    const tail = pending.then(() => {
      if (this.#callbackTail === tail) this.#callbackTail = null
    })
    this.#callbackTail = tail
  }

  #callbackFailed(error) {
    this.#callbackError ??= error
  }
}
