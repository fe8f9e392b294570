import Glibc

enum Clock {
    /// Seconds since the Unix epoch, as the protocol's timestamps are.
    static func epochSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// A monotonic instant in nanoseconds, for deadlines.
    static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func nanos(fromSeconds seconds: Double) -> UInt64 {
        seconds >= 1e9 ? UInt64(1e18) : UInt64(max(0, seconds) * 1e9)
    }
}
