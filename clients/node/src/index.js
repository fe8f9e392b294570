export { Sandbox } from './sandbox.js'
export { Commands } from './commands.js'
export { CommandHandle } from './handle.js'
export { Filesystem, FileType } from './files.js'
export { Pty } from './pty.js'
export {
  SandboxError,
  TimeoutError,
  InvalidArgumentError,
  NotFoundError,
  FileNotFoundError,
  SandboxNotFoundError,
  NotEnoughSpaceError,
  CommandExitError,
  errorFromRpc,
} from './errors.js'
export { findBridge } from './locate.js'
export { Sandbox as default } from './sandbox.js'
