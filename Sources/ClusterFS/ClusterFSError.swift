import Errors
import Glibc

/// A cluster-filesystem failure, carrying the errno the FUSE front returns for it.
public struct ClusterFSError: CorralError, Equatable {
    public let errno: Int32
    public let message: String

    public init(_ errno: Int32, _ message: String) {
        self.errno = errno
        self.message = message
    }

    /// No quorum and a busy lock are passing states (503: try again); everything else fails the request.
    public var code: ErrorCode {
        switch errno {
        case EACCES, EBUSY, EAGAIN: .unavailable
        default: .failed
        }
    }

    static func notFound(_ path: String) -> ClusterFSError { ClusterFSError(ENOENT, "'\(path)' does not exist") }
    static func exists(_ path: String) -> ClusterFSError { ClusterFSError(EEXIST, "'\(path)' already exists") }
    static func notDirectory(_ path: String) -> ClusterFSError { ClusterFSError(ENOTDIR, "'\(path)' is not a directory") }
    static func isDirectory(_ path: String) -> ClusterFSError { ClusterFSError(EISDIR, "'\(path)' is a directory") }
    static let noQuorum = ClusterFSError(EACCES, "cluster not quorate: configuration is read-only")
}
