// Types for the `sandbox-rpc` Node client (E2B JS SDK shape).

/** Where and how to start the bridge, plus the sandbox's options (`sandbox.create`). */
export interface SandboxOpts {
  /** Sandbox lifetime in milliseconds; the bridge kills it when it passes. Default: none. */
  timeoutMs?: number
  /** Environment variables every command of the sandbox gets. */
  envs?: Record<string, string>
  metadata?: Record<string, string>
  /** "auto" (default: bwrap where it works, else none), "none", "bwrap", "docker" */
  isolation?: string
  /**
   * Container image of a docker sandbox (default: the bridge's `--docker-image`,
   * `sandbox-rpc-base:latest`); wins over the template. With another isolation the bridge
   * rejects it (InvalidParams).
   */
  image?: string
  /** The sandbox's home/working directory. */
  cwd?: string
  network?: boolean
  limits?: { memoryBytes?: number; pids?: number; cpuSeconds?: number; maxOutputBytes?: number }
  /** The bridge executable. Default: `$SANDBOX_RPC_BIN`, PATH, then this checkout's `.build/{release,debug}`. */
  bridgePath?: string
  /** Extra command-line flags for the bridge (e.g. `["--eof-grace", "1"]`). */
  bridgeArgs?: string[]
  /** The bridge's own environment (default: `process.env`; commands never see it unless `--inherit-env`). */
  bridgeEnv?: Record<string, string | undefined>
  /** "tail" (default): keep its last logs for error messages; "inherit": print them on this stderr. */
  bridgeStderr?: 'tail' | 'inherit'
}

export interface ServerCapabilities {
  isolation: string[]
  pty: boolean
  files: boolean
}

export interface SandboxInfo {
  sandboxId: string
  isolation: string
  metadata?: Record<string, string>
  startedAt?: Date
  processCount?: number
}

export declare class Sandbox {
  /** Starts a bridge process and creates a sandbox in it. */
  static create(opts?: SandboxOpts): Promise<Sandbox>
  /** E2B form; the template is the image when `opts.isolation` is "docker", else ignored. */
  static create(template: string, opts?: SandboxOpts): Promise<Sandbox>

  readonly sandboxId: string
  readonly isolation: string
  /** Default cwd of commands and base of relative file paths. */
  readonly home: string
  readonly serverInfo: { name: string; version: string }
  readonly capabilities: ServerCapabilities
  /** OS pid of this sandbox's bridge process. */
  readonly bridgePid: number | undefined
  readonly commands: Commands
  /** Needs `capabilities.files`; otherwise every call rejects with kind "Unsupported". */
  readonly files: Filesystem
  /** Needs `capabilities.pty`; otherwise every call rejects with kind "Unsupported". */
  readonly pty: Pty

  /** `"host:port"` reachable from this machine (synchronous, as in E2B). */
  getHost(port: number): string
  /** Asks the bridge each time (for backends that map ports). */
  getHostAsync(port: number): Promise<string>
  setTimeout(timeoutMs: number): Promise<void>
  getInfo(): Promise<SandboxInfo>
  isRunning(): Promise<boolean>
  /** Kills every process, shuts the bridge down and waits for it to exit. False when already killed. */
  kill(): Promise<boolean>
}

export interface CommandResult {
  exitCode: number
  /** "Timeout", "SandboxKilled", "signal: SIGKILL", or a supervision error message. */
  error?: string
  stdout: string
  stderr: string
}

export interface CommandStartOpts {
  /** Resolve a CommandHandle at once instead of waiting. */
  background?: boolean
  envs?: Record<string, string>
  user?: string
  /** Default: the sandbox home; relative paths start there. */
  cwd?: string
  /** Called with each chunk of stdout as produced (never split inside a character, never empty). */
  onStdout?: (data: string) => void | Promise<void>
  onStderr?: (data: string) => void | Promise<void>
  /** Keep stdin open for `sendStdin`. */
  stdin?: boolean
  /** Kill the command this long after it starts (also for background). Default 60_000; 0 = never. */
  timeoutMs?: number
  /** A label shown by `commands.list()`. */
  tag?: string
}

export interface CommandConnectOpts {
  onStdout?: (data: string) => void | Promise<void>
  onStderr?: (data: string) => void | Promise<void>
  /** Bounds `wait()` (the process keeps running). Default 60_000; 0 = none. */
  timeoutMs?: number
}

export interface ProcessInfo {
  pid: number
  tag?: string
  cmd: string
  args: string[]
  envs: Record<string, string>
  cwd?: string
  isPty: boolean
  startedAt?: Date
}

export declare class Commands {
  run(cmd: string, opts?: CommandStartOpts & { background?: false }): Promise<CommandResult>
  run(cmd: string, opts: CommandStartOpts & { background: true }): Promise<CommandHandle>
  run(cmd: string, opts?: CommandStartOpts): Promise<CommandHandle | CommandResult>
  list(): Promise<ProcessInfo[]>
  /** True if killed; false if it had already exited or is unknown. */
  kill(pid: number, opts?: { signal?: string }): Promise<boolean>
  sendStdin(pid: number, data: string | Uint8Array): Promise<void>
  closeStdin(pid: number): Promise<void>
  /** Unknown pid: NotFoundError. The handle starts with the output kept so far. */
  connect(pid: number, opts?: CommandConnectOpts): Promise<CommandHandle>
}

export declare class CommandHandle {
  readonly pid: number
  /** Output so far (grows live). */
  readonly stdout: string
  readonly stderr: string
  /** Undefined while running. */
  readonly exitCode: number | undefined
  readonly error: string | undefined
  /** Rejects with CommandExitError (non-zero exit) or TimeoutError (timeout, sandbox killed). */
  wait(): Promise<CommandResult>
  kill(): Promise<boolean>
  sendStdin(data: string | Uint8Array): Promise<void>
  closeStdin(): Promise<void>
  /** Stop receiving output; the process keeps running. */
  disconnect(): Promise<void>
}

export interface PtyCreateOpts {
  cols: number
  rows: number
  onData?: (data: Uint8Array) => void | Promise<void>
  /** Default 60_000; 0 = never. */
  timeoutMs?: number
  user?: string
  cwd?: string
  envs?: Record<string, string>
  /** Default: a login shell. */
  cmd?: string
}

export declare class Pty {
  create(opts: PtyCreateOpts): Promise<CommandHandle>
  connect(pid: number, opts?: { onData?: (data: Uint8Array) => void | Promise<void>; timeoutMs?: number }): Promise<CommandHandle>
  sendInput(pid: number, data: Uint8Array | string): Promise<void>
  resize(pid: number, size: { cols: number; rows: number }): Promise<void>
  kill(pid: number): Promise<boolean>
}

export declare const FileType: { readonly FILE: 'file'; readonly DIR: 'dir'; readonly SYMLINK: 'symlink' }
export type FileType = (typeof FileType)[keyof typeof FileType]

export interface WriteInfo {
  name: string
  type?: FileType
  path: string
}

export interface EntryInfo {
  name: string
  type: FileType
  path: string
  size: number
  mode: number
  /** e.g. "-rw-r--r--" */
  permissions: string
  owner?: string
  group?: string
  modifiedTime?: Date
  symlinkTarget?: string
}

export type WriteData = string | ArrayBuffer | Uint8Array | Blob | ReadableStream

export declare class Filesystem {
  read(path: string, opts?: { format?: 'text' }): Promise<string>
  read(path: string, opts: { format: 'bytes' }): Promise<Uint8Array>
  read(path: string, opts: { format: 'blob' }): Promise<Blob>
  read(path: string, opts: { format: 'stream' }): Promise<ReadableStream<Uint8Array>>
  write(path: string, data: WriteData): Promise<WriteInfo>
  write(files: { path: string; data: WriteData }[]): Promise<WriteInfo[]>
  /** `depth` below 1 is an InvalidArgumentError. */
  list(path: string, opts?: { depth?: number }): Promise<EntryInfo[]>
  exists(path: string): Promise<boolean>
  getInfo(path: string): Promise<EntryInfo>
  remove(path: string): Promise<void>
  rename(oldPath: string, newPath: string): Promise<EntryInfo>
  /** False when it already existed. */
  makeDir(path: string): Promise<boolean>
  /** Always rejects: sandbox-rpc has no watch method. */
  watchDir(...args: unknown[]): Promise<never>
}

export declare class SandboxError extends Error {
  constructor(message?: string, details?: { kind?: string; code?: number; data?: object; cause?: unknown })
  /** The wire's `data.kind` ("Timeout", "FileNotFound", "StdinClosed", ...) or a client kind ("BridgeExited", "CommandExit", ...). */
  readonly kind: string | undefined
  /** JSON-RPC error code, when the error came from the bridge. */
  readonly code: number | undefined
  readonly data: Record<string, unknown> | undefined
}
/** Timeout, RequestCancelled and SandboxKilled. A timed-out run carries its partial result. */
export declare class TimeoutError extends SandboxError {
  readonly pid?: number
  readonly stdout?: string
  readonly stderr?: string
  readonly exitCode?: number | null
  readonly signal?: string
}
/** InvalidParams, NotADirectory, IsADirectory, AlreadyExists. */
export declare class InvalidArgumentError extends SandboxError {}
/** ProcessNotFound (and the subclasses below). */
export declare class NotFoundError extends SandboxError {}
export declare class FileNotFoundError extends NotFoundError {}
export declare class SandboxNotFoundError extends NotFoundError {}
export declare class NotEnoughSpaceError extends SandboxError {}
export declare class CommandExitError extends SandboxError implements CommandResult {
  constructor(result: CommandResult)
  readonly exitCode: number
  readonly error: string | undefined
  readonly stdout: string
  readonly stderr: string
}

/** Maps a JSON-RPC error object to the error class of its `data.kind`. */
export declare function errorFromRpc(error: { code: number; message: string; data?: unknown }): SandboxError
/** The bridge executable this package would start, or undefined. */
export declare function findBridge(env?: Record<string, string | undefined>): string | undefined

export default Sandbox
