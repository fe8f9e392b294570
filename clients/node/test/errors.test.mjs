// The kind → class table and the error shapes (no bridge needed).

import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  CommandExitError,
  FileNotFoundError,
  InvalidArgumentError,
  NotFoundError,
  SandboxError,
  SandboxNotFoundError,
  TimeoutError,
  errorFromRpc,
} from 'sandbox-rpc'

const EXPECTED = [
  [-32700, 'ParseError', SandboxError],
  [-32600, 'InvalidRequest', SandboxError],
  [-32600, 'LimitExceeded', SandboxError],
  [-32601, 'MethodNotFound', SandboxError],
  [-32602, 'InvalidParams', InvalidArgumentError],
  [-32603, 'Internal', SandboxError],
  [-32001, 'SandboxNotFound', SandboxNotFoundError],
  [-32002, 'ProcessNotFound', NotFoundError],
  [-32003, 'Timeout', TimeoutError],
  [-32004, 'PermissionDenied', SandboxError],
  [-32005, 'FileNotFound', FileNotFoundError],
  [-32006, 'NotADirectory', InvalidArgumentError],
  [-32007, 'AlreadyExists', InvalidArgumentError],
  [-32008, 'ProcessNotRunning', SandboxError],
  [-32009, 'StdinClosed', SandboxError],
  [-32010, 'LimitExceeded', SandboxError],
  [-32011, 'Unsupported', SandboxError],
  [-32012, 'SandboxKilled', TimeoutError],
  [-32013, 'IsADirectory', InvalidArgumentError],
  [-32800, 'RequestCancelled', TimeoutError],
]

test('every wire kind maps to its class, keeping code, kind, data and message', () => {
  for (const [code, kind, ErrorClass] of EXPECTED) {
    const error = errorFromRpc({ code, message: `m ${kind}`, data: { kind, extra: 1 } })
    assert.equal(error.constructor, ErrorClass, kind)
    assert.ok(error instanceof SandboxError && error instanceof Error)
    assert.equal(error.kind, kind)
    assert.equal(error.code, code)
    assert.deepEqual(error.data, { kind, extra: 1 })
    assert.equal(error.message, `m ${kind}`)
  }
})

test('kind wins over code; a missing kind falls back to the code; unknown is SandboxError', () => {
  assert.equal(errorFromRpc({ code: -32000, message: 'x', data: { kind: 'FileNotFound' } }).constructor, FileNotFoundError)
  assert.equal(errorFromRpc({ code: -32005, message: 'x' }).kind, 'FileNotFound')
  const unknown = errorFromRpc({ code: -31999, message: 'x', data: { kind: 'Novel' } })
  assert.equal(unknown.constructor, SandboxError)
  assert.equal(unknown.kind, 'Novel')
})

test('a Timeout error exposes the partial result', () => {
  const error = errorFromRpc({
    code: -32003,
    message: 'timed out',
    data: { kind: 'Timeout', pid: 7, stdout: 'a', stderr: 'b', exitCode: 137, signal: 'SIGKILL' },
  })
  assert.deepEqual([error.pid, error.stdout, error.stderr, error.exitCode, error.signal], [7, 'a', 'b', 137, 'SIGKILL'])
})

test('CommandExitError is a CommandResult and a SandboxError', () => {
  const error = new CommandExitError({ exitCode: 2, error: undefined, stdout: 'o', stderr: 'e' })
  assert.ok(error instanceof SandboxError)
  assert.equal(error.name, 'CommandExitError')
  assert.deepEqual([error.exitCode, error.stdout, error.stderr, error.error], [2, 'o', 'e', undefined])
  assert.equal(error.message, 'Command exited with code 2 and error:\ne')
})
