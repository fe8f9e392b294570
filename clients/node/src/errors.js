// Error classes, shaped like E2B's JS SDK, and the one table that maps the
// wire's `data.kind` to them. Clients switch on `kind`, never on the number.

/** Base class of every error this package throws. */
export class SandboxError extends Error {
  /**
   * @param {string} [message]
   * @param {{kind?: string, code?: number, data?: object, cause?: unknown}} [details]
   */
  constructor(message, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'SandboxError'
    /** The wire's `data.kind` ("Timeout", "FileNotFound", ...) or a client-side kind. */
    this.kind = details.kind
    /** The JSON-RPC error code, when the error came from the bridge. */
    this.code = details.code
    /** The JSON-RPC error `data`, when the error came from the bridge. */
    this.data = details.data
  }
}

/** A command, wait or request ran out of time, or the sandbox was killed under it. */
export class TimeoutError extends SandboxError {
  constructor(message, details) {
    super(message, details)
    this.name = 'TimeoutError'
    // A timed-out run carries its partial result beside `kind`.
    const d = this.data ?? {}
    for (const key of ['pid', 'stdout', 'stderr', 'exitCode', 'signal']) {
      if (d[key] !== undefined) this[key] = d[key]
    }
  }
}

export class InvalidArgumentError extends SandboxError {
  constructor(message, details) {
    super(message, details)
    this.name = 'InvalidArgumentError'
  }
}

export class NotFoundError extends SandboxError {
  constructor(message, details) {
    super(message, details)
    this.name = 'NotFoundError'
  }
}

export class FileNotFoundError extends NotFoundError {
  constructor(message, details) {
    super(message, details)
    this.name = 'FileNotFoundError'
  }
}

export class SandboxNotFoundError extends NotFoundError {
  constructor(message, details) {
    super(message, details)
    this.name = 'SandboxNotFoundError'
  }
}

export class NotEnoughSpaceError extends SandboxError {
  constructor(message, details) {
    super(message, details)
    this.name = 'NotEnoughSpaceError'
  }
}

/**
 * A foreground command (or a handle's `wait()`) ended with a non-zero exit
 * code. It is also a CommandResult: `exitCode`, `stdout`, `stderr`, `error`.
 */
export class CommandExitError extends SandboxError {
  /** @param {{exitCode: number, stdout: string, stderr: string, error?: string}} result */
  constructor(result) {
    super(`Command exited with code ${result.exitCode} and error:\n${result.stderr}`, {
      kind: 'CommandExit',
    })
    this.name = 'CommandExitError'
    Object.defineProperty(this, 'result', { value: result, enumerable: false })
  }

  get exitCode() {
    return this.result.exitCode
  }

  get error() {
    return this.result.error
  }

  get stdout() {
    return this.result.stdout
  }

  get stderr() {
    return this.result.stderr
  }
}

/** `data.kind` → error class. Anything not listed is a plain SandboxError. */
const ERROR_CLASS_BY_KIND = {
  InvalidParams: InvalidArgumentError,
  NotADirectory: InvalidArgumentError,
  IsADirectory: InvalidArgumentError,
  AlreadyExists: InvalidArgumentError,
  SandboxNotFound: SandboxNotFoundError,
  ProcessNotFound: NotFoundError,
  FileNotFound: FileNotFoundError,
  Timeout: TimeoutError,
  // E2B reports a sandbox that died under a request as a timeout (end of life).
  SandboxKilled: TimeoutError,
  RequestCancelled: TimeoutError,
  // ParseError, InvalidRequest, LimitExceeded, MethodNotFound, Internal,
  // PermissionDenied, ProcessNotRunning, StdinClosed, Unsupported → SandboxError.
}

/** Kinds implied by a code when the bridge sent no `data.kind`. */
const KIND_BY_CODE = {
  [-32700]: 'ParseError',
  [-32600]: 'InvalidRequest',
  [-32601]: 'MethodNotFound',
  [-32602]: 'InvalidParams',
  [-32603]: 'Internal',
  [-32001]: 'SandboxNotFound',
  [-32002]: 'ProcessNotFound',
  [-32003]: 'Timeout',
  [-32004]: 'PermissionDenied',
  [-32005]: 'FileNotFound',
  [-32006]: 'NotADirectory',
  [-32007]: 'AlreadyExists',
  [-32008]: 'ProcessNotRunning',
  [-32009]: 'StdinClosed',
  [-32010]: 'LimitExceeded',
  [-32011]: 'Unsupported',
  [-32012]: 'SandboxKilled',
  [-32013]: 'IsADirectory',
  [-32800]: 'RequestCancelled',
}

/**
 * Turns a JSON-RPC error object into the matching error instance.
 * @param {{code: number, message: string, data?: any}} rpcError
 */
export function errorFromRpc(rpcError) {
  const data = rpcError?.data && typeof rpcError.data === 'object' ? rpcError.data : undefined
  const kind = data?.kind ?? KIND_BY_CODE[rpcError?.code] ?? 'Unknown'
  return makeError(kind, rpcError?.message ?? 'unknown error', { code: rpcError?.code, data })
}

/**
 * Builds the error for `kind`, for errors raised on the client side with a
 * wire kind (e.g. a `commands.exit` whose `error` is "Timeout").
 */
export function makeError(kind, message, { code, data, cause } = {}) {
  const ErrorClass = ERROR_CLASS_BY_KIND[kind] ?? SandboxError
  return new ErrorClass(message, { kind, code, data: data ?? { kind }, cause })
}
