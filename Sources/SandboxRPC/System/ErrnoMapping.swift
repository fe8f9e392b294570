import Glibc
import Protocol

extension RPCError {
    /// The wire error for a failed system call: the one place where an errno becomes a kind.
    /// `path` is the file the call was about, `action` what was being done ("pipe", "start the
    /// sandbox supervisor") when no file was.
    init(errno code: Int32, path: String? = nil, action: String? = nil) {
        let text = String(cString: strerror(code))
        let subject = path ?? action ?? "system call"
        switch code {
        case ENOENT where path != nil: self = .fileNotFound(path: subject)
        case ENOTDIR where path != nil: self = .notADirectory(path: subject)
        case EISDIR where path != nil: self = .isADirectory(path: subject)
        case EEXIST where path != nil, ENOTEMPTY where path != nil: self = .alreadyExists(path: subject)
        case EACCES, EPERM, EROFS, ETXTBSY, EBUSY: self = .permissionDenied(reason: text, path: path)
        case ENXIO: self = .unsupported(reason: "\(subject) is not a file (a socket or a device without a reader)")
        case EXDEV: self = .unsupported(reason: "\(subject): cannot move between file systems (e.g. /tmp and the home); copy it instead")
        case ENAMETOOLONG:
            self = .invalidParams(field: "path", reason: "\(subject.utf8.count > 4096 ? "the path" : "a name in the path") is too long")
        case EINVAL where path != nil: self = .invalidParams(field: "path", reason: "\(subject): \(text)")
        case ELOOP: self = .invalidParams(field: "path", reason: "\(subject): too many levels of symbolic links")
        case EMFILE, ENFILE: self = .limitExceeded(reason: "out of file descriptors (\(subject): \(text))")
        case ENOSPC, EDQUOT, EAGAIN, ENOMEM, EMSGSIZE:
            self = .limitExceeded(reason: "\(subject): \(text)")
        default: self = .internalError(reason: "\(subject): \(text)")
        }
    }
}

extension SystemError {
    /// This failure as the client sees it.
    func rpcError(path: String? = nil) -> RPCError { RPCError(errno: errno, path: path, action: call) }
}
