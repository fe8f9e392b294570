// One `sandbox-rpc` child process and the JSON-RPC conversation over its
// pipes: NDJSON framing, requests matched by id, notifications routed by
// (sandboxId, pid). Knows nothing about commands or files.

import { spawn } from 'node:child_process'
import { SandboxError, TimeoutError, errorFromRpc } from './errors.js'

const NEWLINE = 0x0a
const STDERR_TAIL_BYTES = 8192

/** Bridges still running, terminated when this Node process exits. */
const liveBridges = new Set()
let exitHookInstalled = false

function installExitHook() {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // The bridge would also notice EOF on its stdin and clean up; SIGTERM makes
  // it kill everything at once instead of granting in-flight requests a grace.
  process.on('exit', () => {
    for (const bridge of liveBridges) bridge.terminateNow()
  })
}

/** Route key of a process: pids are only unique within a sandbox. */
export function routeKey(sandboxId, pid) {
  return `${sandboxId ?? 'default'}\u0000${pid}`
}

export class Bridge {
  #child
  #nextId = 1
  /** id → {resolve, reject, onResult} */
  #pending = new Map()
  /** routeKey → Set of listeners with `onNotification(method, params)` / `onBridgeClosed(err)` */
  #routes = new Map()
  #partialLine = []
  #stderrTail = ''
  #holds = 0
  #referenced = true
  #closed = false
  #closeError
  #shuttingDown = false
  #closedPromise
  #resolveClosed

  /**
   * @param {string} path the bridge executable
   * @param {{args?: string[], env?: NodeJS.ProcessEnv, stderr?: 'tail'|'inherit'}} [options]
   */
  constructor(path, { args = [], env = process.env, stderr = 'tail' } = {}) {
    this.path = path
    this.#closedPromise = new Promise((resolve) => (this.#resolveClosed = resolve))
    this.#child = spawn(path, args, {
      env,
      stdio: ['pipe', 'pipe', stderr === 'inherit' ? 'inherit' : 'pipe'],
    })
    this.#child.on('error', (error) => {
      // Without a pid it never started (ENOENT, EACCES); otherwise 'close' follows in its time.
      if (this.#child.pid === undefined) this.#onClosed({ error })
    })
    this.#child.on('close', (code, signal) => this.#onClosed({ code, signal }))
    this.#child.stdin.on('error', () => {}) // EPIPE: the 'close' event reports it
    this.#child.stdout.on('data', (chunk) => this.#onData(chunk))
    this.#child.stderr?.on('data', (chunk) => {
      this.#stderrTail = (this.#stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES)
    })
    liveBridges.add(this)
    installExitHook()
    this.#updateRef()
  }

  /** The bridge's OS pid (undefined when it could not be started). */
  get pid() {
    return this.#child.pid
  }

  get closed() {
    return this.#closed
  }

  /** What the bridge wrote on stderr lately (its logs), for error messages. */
  get stderrTail() {
    return this.#stderrTail
  }

  /** Resolves once the bridge process has exited and its pipes are closed. */
  get whenClosed() {
    return this.#closedPromise
  }

  /**
   * Sends a request. `onResult` runs synchronously when the response is read,
   * before any later line is handled: callers register notification routes
   * there, since the bridge may write a pid's notifications right after the
   * response that announces the pid.
   * @param {string} method
   * @param {object} [params]
   * @param {{onResult?: (result: any) => void, timeoutMs?: number}} [options]
   */
  request(method, params, { onResult, timeoutMs = 0 } = {}) {
    if (this.#closed) return Promise.reject(this.#closedError())
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      const release = this.hold()
      let timer
      const settle = (fn, value) => {
        clearTimeout(timer)
        this.#pending.delete(id)
        release()
        fn(value)
      }
      this.#pending.set(id, {
        onResult,
        resolve: (value) => settle(resolve, value),
        reject: (error) => settle(reject, error),
      })
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          this.notify('$/cancelRequest', { id })
          settle(reject, new TimeoutError(`${method}: no response within ${timeoutMs} ms`, { kind: 'RequestTimeout' }))
        }, timeoutMs)
      }
      this.#write({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) })
    })
  }

  notify(method, params) {
    if (!this.#closed) this.#write({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) })
  }

  /** Routes the notifications of `pid` in `sandboxId` to `listener` until `unroute`. */
  route(sandboxId, pid, listener) {
    const key = routeKey(sandboxId, pid)
    let listeners = this.#routes.get(key)
    if (!listeners) this.#routes.set(key, (listeners = new Set()))
    listeners.add(listener)
  }

  unroute(sandboxId, pid, listener) {
    const key = routeKey(sandboxId, pid)
    const listeners = this.#routes.get(key)
    if (!listeners) return
    listeners.delete(listener)
    if (listeners.size === 0) this.#routes.delete(key)
  }

  /**
   * Keeps Node's event loop alive while something waits on the bridge
   * (a request, a handle with callbacks, a `wait()`); when nothing does, the
   * bridge does not hold the program open. Returns the release function.
   */
  hold() {
    this.#holds++
    this.#updateRef()
    let released = false
    return () => {
      if (released) return
      released = true
      this.#holds--
      this.#updateRef()
    }
  }

  /**
   * Asks the bridge to shut down (it kills every sandbox first), closes its
   * stdin and waits for it to exit; SIGKILLs it after `graceMs`.
   */
  async shutdown({ graceMs = 5000 } = {}) {
    if (this.#closed) return
    const release = this.hold()
    this.#shuttingDown = true
    try {
      await this.request('shutdown', {}).catch(() => {})
      this.#child.stdin.end()
      let timer
      const timedOut = await Promise.race([
        this.#closedPromise.then(() => false),
        new Promise((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
      ])
      clearTimeout(timer)
      if (timedOut) {
        this.#child.kill('SIGKILL')
        await this.#closedPromise
      }
    } finally {
      release()
    }
  }

  /** Synchronous last resort (process exit): the bridge kills everything on SIGTERM. */
  terminateNow() {
    if (!this.#closed) this.#child.kill('SIGTERM')
  }

  #write(message) {
    const stdin = this.#child.stdin
    if (stdin.writable) stdin.write(JSON.stringify(message) + '\n')
  }

  #updateRef() {
    const wanted = this.#holds > 0
    if (wanted === this.#referenced || this.#closed) return
    this.#referenced = wanted
    const child = this.#child
    for (const handle of [child, child.stdin, child.stdout, child.stderr]) {
      if (wanted) handle?.ref?.()
      else handle?.unref?.()
    }
  }

  #onData(chunk) {
    let start = 0
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start)
      if (newline === -1) break
      let line = chunk.subarray(start, newline)
      if (this.#partialLine.length > 0) {
        this.#partialLine.push(line)
        line = Buffer.concat(this.#partialLine)
        this.#partialLine = []
      }
      start = newline + 1
      this.#onLine(line)
    }
    if (start < chunk.length) this.#partialLine.push(chunk.subarray(start))
  }

  #onLine(bytes) {
    // Decoding whole lines never splits a character; `\r\n` is accepted.
    const text = bytes.toString('utf8').trim()
    if (text === '') return
    let message
    try {
      message = JSON.parse(text)
    } catch {
      this.#stderrTail = (this.#stderrTail + `\n[client] unparsable line from bridge: ${text.slice(0, 200)}`).slice(-STDERR_TAIL_BYTES)
      return
    }
    for (const m of Array.isArray(message) ? message : [message]) this.#dispatch(m)
  }

  #dispatch(message) {
    if (message === null || typeof message !== 'object') return
    if (typeof message.method === 'string') {
      if (message.id === undefined) this.#onNotificationMessage(message.method, message.params ?? {})
      return // the bridge sends no requests to clients
    }
    const pending = this.#pending.get(message.id)
    if (!pending) return
    if (message.error !== undefined) {
      pending.reject(errorFromRpc(message.error))
      return
    }
    try {
      pending.onResult?.(message.result)
    } catch (error) {
      pending.reject(error)
      return
    }
    pending.resolve(message.result)
  }

  #onNotificationMessage(method, params) {
    // Process notifications go to their handles; others (`sandbox.exit`) need no
    // action here: the sandbox's processes get their own `commands.exit`.
    if (params.pid === undefined) return
    const listeners = this.#routes.get(routeKey(params.sandboxId, params.pid))
    if (listeners) for (const listener of [...listeners]) listener.onNotification(method, params)
  }

  #closedError() {
    if (this.#closeError) return this.#closeError
    return new SandboxError('the sandbox-rpc bridge is not running', { kind: 'BridgeClosed' })
  }

  #onClosed({ code, signal, error }) {
    if (this.#closed) return
    this.#closed = true
    liveBridges.delete(this)
    if (this.#shuttingDown) {
      this.#closeError = new SandboxError('the sandbox-rpc bridge has shut down', { kind: 'BridgeClosed' })
    } else {
      const how = error ? `could not be run: ${error.message}` : `exited unexpectedly (code ${code}, signal ${signal})`
      const logs = this.#stderrTail.trim() ? `\nits last stderr output:\n${this.#stderrTail.trim()}` : ''
      this.#closeError = new SandboxError(`sandbox-rpc bridge ${this.path} ${how}${logs}`, {
        kind: 'BridgeExited',
        cause: error,
      })
    }
    for (const pending of [...this.#pending.values()]) pending.reject(this.#closeError)
    for (const listeners of [...this.#routes.values()]) {
      for (const listener of [...listeners]) listener.onBridgeClosed(this.#closeError, this.#shuttingDown)
    }
    this.#routes.clear()
    this.#resolveClosed()
  }
}
