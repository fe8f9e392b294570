import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const BINARY_NAME = 'sandbox-rpc'

/** The repository root, when this package is used from a checkout (clients/node/src → ../../..). */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

function isExecutableFile(path) {
  try {
    if (!statSync(path).isFile()) return false
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/**
 * The places searched for the bridge, in order: `$SANDBOX_RPC_BIN`, every
 * `PATH` entry, then this checkout's `.build/release` and `.build/debug`.
 * @param {NodeJS.ProcessEnv} env
 * @returns {string[]}
 */
export function bridgeCandidates(env = process.env, repoRoot = REPO_ROOT) {
  const candidates = []
  if (env.SANDBOX_RPC_BIN) candidates.push(env.SANDBOX_RPC_BIN)
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir) candidates.push(join(dir, BINARY_NAME))
  }
  candidates.push(join(repoRoot, '.build', 'release', BINARY_NAME))
  candidates.push(join(repoRoot, '.build', 'debug', BINARY_NAME))
  return candidates
}

/**
 * Finds the `sandbox-rpc` executable, or returns undefined.
 * An explicit `$SANDBOX_RPC_BIN` that is not executable is not skipped
 * silently: it is returned so that spawning it reports the real problem.
 */
export function findBridge(env = process.env, repoRoot = REPO_ROOT) {
  if (env.SANDBOX_RPC_BIN) return env.SANDBOX_RPC_BIN
  return bridgeCandidates(env, repoRoot).find(isExecutableFile)
}
