// `Sandbox`: one bridge process per sandbox, E2B's JS SDK shape on top.

import { Bridge } from './bridge.js'
import { Commands, toSeconds } from './commands.js'
import { InvalidArgumentError, SandboxError } from './errors.js'
import { Filesystem } from './files.js'
import { bridgeCandidates, findBridge } from './locate.js'
import { Pty } from './pty.js'

const CLIENT_INFO = { name: 'sandbox-rpc-node', version: '0.1.0' }
const INITIALIZE_TIMEOUT_MS = 30_000
/** Asked once at creation so that `getHost(port)` can stay synchronous, as in E2B. */
const HOST_PROBE_PORT = 80

export class Sandbox {
  #bridge
  #killed = false
  #host
  #hostError

  /** @internal use `Sandbox.create()` */
  constructor({ bridge, initialized, created, host, hostError }) {
    this.#bridge = bridge
    this.#host = host
    this.#hostError = hostError
    /** The sandbox's id on its bridge. */
    this.sandboxId = created.sandboxId
    /** Isolation in use: "none", "bwrap", "docker" */
    this.isolation = created.isolation
    /** The sandbox's home: default cwd and the base of relative paths. */
    this.home = created.home
    /** What the bridge says about itself: `{name, version}`. */
    this.serverInfo = initialized.serverInfo
    /** `{isolation: string[], pty: boolean, files: boolean}` from `initialize`. */
    this.capabilities = initialized.capabilities ?? { isolation: [], pty: false, files: false }
    this.commands = new Commands(bridge, this.sandboxId)
    this.files = new Filesystem(bridge, this.sandboxId, this.capabilities.files === true)
    this.pty = new Pty(bridge, this.sandboxId, this.commands, this.capabilities.pty === true)
  }

  /**
   * Starts a bridge process and creates a sandbox in it.
   * `Sandbox.create(opts)` or, as in E2B, `Sandbox.create(template, opts)`: the template is
   * the image of a docker sandbox (unless `opts.image` names one) and ignored otherwise, so
   * E2B code passing names like "base" keeps working on local sandboxes.
   */
  static async create(templateOrOpts, maybeOpts) {
    const template = typeof templateOrOpts === 'string' ? templateOrOpts : undefined
    const opts = (template === undefined ? templateOrOpts : maybeOpts) ?? {}
    const path = opts.bridgePath ?? findBridge()
    if (!path) {
      throw new SandboxError(
        `sandbox-rpc executable not found; set SANDBOX_RPC_BIN or build it (swift build). Looked in: ${bridgeCandidates().join(', ')}`,
        { kind: 'BridgeNotFound' },
      )
    }
    const bridge = new Bridge(path, { args: opts.bridgeArgs, env: opts.bridgeEnv, stderr: opts.bridgeStderr })
    try {
      const initialized = await bridge.request('initialize', { clientInfo: CLIENT_INFO }, { timeoutMs: INITIALIZE_TIMEOUT_MS })
      const created = await bridge.request('sandbox.create', {
        isolation: opts.isolation,
        image: opts.image ?? (opts.isolation === 'docker' ? template : undefined),
        cwd: opts.cwd,
        envs: opts.envs,
        timeout: toSeconds(opts.timeoutMs),
        metadata: opts.metadata,
        network: opts.network,
        limits: opts.limits,
      })
      let host
      let hostError
      try {
        const { host: probed } = await bridge.request('sandbox.getHost', { sandboxId: created.sandboxId, port: HOST_PROBE_PORT })
        if (probed.endsWith(`:${HOST_PROBE_PORT}`)) host = probed.slice(0, -`:${HOST_PROBE_PORT}`.length)
        else hostError = new SandboxError(`this bridge maps ports (${probed}); use getHostAsync(port)`, { kind: 'Unsupported' })
      } catch (error) {
        hostError = error
      }
      return new Sandbox({ bridge, initialized, created, host, hostError })
    } catch (error) {
      await bridge.shutdown({ graceMs: 1000 })
      throw error
    }
  }

  /** OS pid of this sandbox's bridge process. */
  get bridgePid() {
    return this.#bridge.pid
  }

  /** `"host:port"` at which `port` inside the sandbox is reachable from here. */
  getHost(port) {
    validatePort(port)
    if (this.#host === undefined) throw this.#hostError
    return `${this.#host}:${port}`
  }

  /** `getHost` asked of the bridge each time (for backends that map ports). */
  async getHostAsync(port) {
    validatePort(port)
    return (await this.#bridge.request('sandbox.getHost', { sandboxId: this.sandboxId, port })).host
  }

  /** Changes the sandbox's lifetime: killed `timeoutMs` from now (0: never). */
  async setTimeout(timeoutMs) {
    await this.#bridge.request('sandbox.setTimeout', { sandboxId: this.sandboxId, timeout: toSeconds(timeoutMs) })
  }

  /** Information from `sandbox.list`: `{sandboxId, isolation, metadata, startedAt: Date, processCount}`. */
  async getInfo() {
    const { sandboxes } = await this.#bridge.request('sandbox.list', {})
    const info = sandboxes.find((s) => s.sandboxId === this.sandboxId)
    if (!info) throw new SandboxError(`sandbox ${this.sandboxId} is not running`, { kind: 'SandboxNotFound' })
    return { ...info, startedAt: info.startedAt === undefined ? undefined : new Date(info.startedAt * 1000) }
  }

  /** True while the sandbox exists (not killed, not timed out). */
  async isRunning() {
    if (this.#killed || this.#bridge.closed) return false
    try {
      const { sandboxes } = await this.#bridge.request('sandbox.list', {})
      return sandboxes.some((s) => s.sandboxId === this.sandboxId)
    } catch (error) {
      if (this.#bridge.closed) return false
      throw error
    }
  }

  /**
   * Kills the sandbox (every process in it), shuts the bridge down and waits
   * for it to exit. Resolves true if this call killed the sandbox, false when
   * it was already killed (or had timed out).
   */
  async kill() {
    if (this.#killed) return false
    this.#killed = true
    let killed = false
    try {
      killed = (await this.#bridge.request('sandbox.kill', { sandboxId: this.sandboxId })).killed === true
    } catch (error) {
      if (!this.#bridge.closed) throw error
    } finally {
      await this.#bridge.shutdown()
    }
    return killed
  }
}

// `await using sandbox = await Sandbox.create()` kills it at scope end (where supported).
if (typeof Symbol.asyncDispose === 'symbol') {
  Sandbox.prototype[Symbol.asyncDispose] = function dispose() {
    return this.kill().then(() => undefined)
  }
}

function validatePort(port) {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError(`port must be an integer in 1...65535, got ${port}`, { kind: 'InvalidParams' })
  }
}
