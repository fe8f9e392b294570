// Compiled (never run) by test/types.test.mjs: index.d.ts must type this E2B-style usage.
import SandboxDefault, {
  CommandExitError,
  CommandHandle,
  CommandResult,
  EntryInfo,
  FileType,
  Sandbox,
  SandboxError,
  TimeoutError,
} from 'sandbox-rpc'

export async function usage(): Promise<void> {
  const sandbox = await Sandbox.create({ timeoutMs: 60_000, envs: { A: 'b' } })
  await SandboxDefault.create('base', { isolation: 'none' })
  await Sandbox.create('sandbox-rpc-base:latest', { isolation: 'docker', image: 'sandbox-rpc-base:latest' })

  const result: CommandResult = await sandbox.commands.run('echo hi', { onStdout: (data: string) => console.log(data) })
  const handle: CommandHandle = await sandbox.commands.run('sleep 1', { background: true, timeoutMs: 0 })
  const exitCode: number | undefined = handle.exitCode
  const waited: CommandResult = await handle.wait()
  await handle.sendStdin(new Uint8Array([1]))
  const host: string = sandbox.getHost(3000)

  const bytes: Uint8Array = await sandbox.files.read('x', { format: 'bytes' })
  const text: string = await sandbox.files.read('x')
  const entries: EntryInfo[] = await sandbox.files.list('.', { depth: 2 })
  const isDir: boolean = entries[0].type === FileType.DIR

  const terminal = await sandbox.pty.create({ cols: 80, rows: 24, onData: (data) => void data.byteLength })
  await sandbox.pty.resize(terminal.pid, { cols: 100, rows: 30 })

  try {
    await sandbox.commands.run('exit 1')
  } catch (error) {
    if (error instanceof CommandExitError) {
      const code: number = error.exitCode
      const stderr: string = error.stderr
      console.log(code, stderr)
    }
    if (error instanceof TimeoutError) console.log(error.stdout)
    if (error instanceof SandboxError) console.log(error.kind, error.code)
  }
  const killed: boolean = await sandbox.kill()

  // @ts-expect-error a background run resolves a handle, not a CommandResult
  const wrong: CommandResult = await sandbox.commands.run('x', { background: true })
  console.log(result, exitCode, waited, host, bytes, text, isDir, killed, wrong)
}
