import Glibc

/// A local account, as `getpwnam_r` reports it.
struct UserAccount: Sendable {
    let name: String
    let uid: uid_t
    let gid: gid_t

    static func named(_ name: String) -> UserAccount? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let rc = getpwnam_r(name, &pwd, &buffer, buffer.count, &result)
        guard rc == 0, result != nil else { return nil }
        return UserAccount(name: name, uid: pwd.pw_uid, gid: pwd.pw_gid)
    }

    static func current() -> UserAccount {
        let uid = getuid()
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        if getpwuid_r(uid, &pwd, &buffer, buffer.count, &result) == 0, result != nil {
            return UserAccount(name: String(cString: pwd.pw_name), uid: uid, gid: pwd.pw_gid)
        }
        return UserAccount(name: String(uid), uid: uid, gid: getgid())
    }
}
