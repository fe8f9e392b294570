// index.d.ts types E2B-style usage (test-support/types-check.mts), when a
// TypeScript compiler is installed (`tsc` on PATH; Debian: node-typescript).

import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'

function hasTsc() {
  try {
    execFileSync('tsc', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

test('index.d.ts compiles against typical usage (strict)', { timeout: 120_000, skip: hasTsc() ? false : 'tsc is not installed' }, async () => {
  const cwd = fileURLToPath(new URL('../test-support/', import.meta.url))
  const args = ['--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'es2022,dom', 'types-check.mts']
  const output = await new Promise((resolve) => execFile('tsc', args, { cwd }, (error, stdout, stderr) => resolve({ code: error?.code ?? 0, text: stdout + stderr })))
  assert.equal(output.text, '')
  assert.equal(output.code, 0)
})
