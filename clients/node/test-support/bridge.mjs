// Shared by the node:test suites (kept outside test/ so `node --test test/`
// does not run it as a test file). The suites drive the REAL bridge.

import { execFileSync, spawn } from 'node:child_process'
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { Sandbox } from 'sandbox-rpc'

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** The bridge under test: `$SANDBOX_RPC_BIN`, else this checkout's debug build. */
export const BIN = process.env.SANDBOX_RPC_BIN || `${REPO_ROOT}.build/debug/sandbox-rpc`

/** `initialize`'s result, asked of the bridge directly (not through the client under test). */
async function probe() {
  if (!existsSync(BIN)) {
    const reason = `sandbox-rpc binary not found at ${BIN} (build it with \`swift build\` or set SANDBOX_RPC_BIN)`
    if (process.env.CI === 'true') throw new Error(`${reason}; CI=true, so this is a failure, not a skip`)
    return { skip: reason }
  }
  const { result } = await initialize([], 'inherit')
  return { skip: false, capabilities: result.capabilities, serverInfo: result.serverInfo }
}

/** Runs `BIN ...args` for one `initialize`; its result, and the bridge's stderr when piped. */
async function initialize(args, stderr) {
  const child = spawn(BIN, args, { stdio: ['pipe', 'pipe', stderr] })
  let out = ''
  let logs = ''
  child.stderr?.on('data', (chunk) => {
    logs += chunk
  })
  const result = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${BIN} did not answer initialize within 20 s`)), 20_000)
    child.on('error', reject)
    child.stdout.on('data', (chunk) => {
      out += chunk
      const newline = out.indexOf('\n')
      if (newline === -1) return
      clearTimeout(timer)
      const message = JSON.parse(out.slice(0, newline))
      if (message.error) reject(new Error(`initialize failed: ${JSON.stringify(message.error)}`))
      else resolve(message.result)
    })
    child.stdin.write('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}\n')
  })
  child.stdin.end()
  await new Promise((resolve) => child.on('close', resolve))
  return { result, stderr: logs }
}

export const bridge = await probe()

/** node:test `skip` option for the whole bridge-driven suite. */
export const SKIP_NO_BRIDGE = bridge.skip
/** node:test `skip` option for tests that need `capabilities.files`. */
export const SKIP_NO_FILES = bridge.skip || (bridge.capabilities?.files ? false : 'bridge lacks files capability')
/** node:test `skip` option for tests that need `capabilities.pty`. */
export const SKIP_NO_PTY = bridge.skip || (bridge.capabilities?.pty ? false : 'bridge lacks pty capability')

/** A statically linked sandbox-rpc for docker sandboxes' containers (scripts/test sets it). */
export const DOCKER_AGENT = process.env.SANDBOX_RPC_DOCKER_AGENT
export const DOCKER_IMAGE = 'sandbox-rpc-base:latest'
/** `bridgeArgs` for docker sandboxes. */
export const DOCKER_BRIDGE_ARGS = ['--docker-agent', DOCKER_AGENT ?? '']

/**
 * node:test `skip` option for docker tests: false, or why the bridge cannot make docker
 * sandboxes here. With CI=true that reason throws instead (call it at the top of a docker test
 * file, so that file fails).
 */
export async function dockerSkip() {
  if (bridge.skip) return bridge.skip
  const reason = await dockerUnavailable()
  if (!reason) return false
  if (process.env.CI === 'true') throw new Error(`docker sandboxes unavailable: ${reason}; CI=true, so this is a failure, not a skip`)
  return `docker sandboxes unavailable: ${reason}`
}

async function dockerUnavailable() {
  if (!DOCKER_AGENT) return 'SANDBOX_RPC_DOCKER_AGENT is not set (a static sandbox-rpc, from scripts/build-release)'
  try {
    accessSync(DOCKER_AGENT, constants.X_OK)
  } catch {
    return `SANDBOX_RPC_DOCKER_AGENT=${DOCKER_AGENT} is not an executable file`
  }
  // At info level the bridge says why docker is missing (no engine, or an agent that is not static).
  const { result, stderr } = await initialize(['--docker-agent', DOCKER_AGENT, '--log-level', 'info'], 'pipe')
  const isolation = result.capabilities?.isolation ?? []
  if (isolation.includes('docker')) return false
  const why = stderr.split('\n').filter((line) => line.includes('docker:'))
  return `the bridge lists no docker in capabilities.isolation ${JSON.stringify(isolation)}: ${
    why.join('; ') || 'no Docker Engine answers, or the agent is not statically linked'}`
}

/**
 * Ids of the containers (in any state) made by the bridge with this pid, whose label is
 * "boot/pid/start"; null without the docker CLI.
 */
export function containersOfBridge(bridgePid) {
  let listing
  try {
    listing = execFileSync('docker', ['ps', '-a', '--filter', 'label=sandbox-rpc.bridge', '--format', '{{.ID}} {{.Label "sandbox-rpc.bridge"}}'], { encoding: 'utf8' })
  } catch (error) {
    if (error.code === 'ENOENT') return null
    throw error
  }
  return listing.split('\n').filter((line) => line.split(' ')[1]?.split('/')[1] === String(bridgePid)).map((line) => line.split(' ')[0])
}

export function createSandbox(opts = {}) {
  return Sandbox.create({ bridgePath: BIN, ...opts })
}

/** A token unlikely to appear in any other process's command line. */
export function marker() {
  return `${process.pid}${Math.floor(Math.random() * 1e9)}`
}

/** Pids of live (non-zombie) processes whose command line contains `needle`, except this one. */
export function processesMatching(needle) {
  const found = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
      if (!cmdline.includes(needle)) continue
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').replace(/^.*\) /, '')[0]
      if (state !== 'Z') found.push(Number(entry))
    } catch {
      // exited while we looked
    }
  }
  return found
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if (error.code === 'ESRCH') return false
    throw error
  }
  // A zombie still answers kill(0); it is dead for our purpose.
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0] !== 'Z'
  } catch {
    return false
  }
}

/** Polls `predicate` every 20 ms until true or `timeoutMs` passes; returns its last value. */
export async function eventually(predicate, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await predicate()
    if (value || Date.now() >= deadline) return value
    await sleep(20)
  }
}

export { sleep }
