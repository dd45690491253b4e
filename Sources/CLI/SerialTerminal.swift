import Foundation
import Glibc
import Guests
import QEMU

/// Attaches the terminal to a guest's serial socket (`qm terminal`): raw mode, both directions,
/// until Ctrl+O or the guest closes it.
enum SerialTerminal {
    static let escape: UInt8 = 0x0F

    static func attach(path: String) throws -> Int32 {
        let fd: Int32
        do { fd = try ConsoleSessions.connect(path) } catch {
            throw CLIError.failed("unable to find a serial interface at \(path) (is the VM running with 'serial0: socket'?)", code: 1)
        }
        defer { close(fd) }
        return attach(fd: fd, banner: "starting serial terminal on \(path) (press Ctrl+O to exit)")
    }

    /// Joins stdin/stdout to `fd` (a socket or a pty) until Ctrl+O or the other side closes.
    static func attach(fd: Int32, banner: String) -> Int32 {
        var saved = termios()
        let interactive = isatty(0) == 1
        if interactive {
            tcgetattr(0, &saved)
            var raw = saved
            cfmakeraw(&raw)
            tcsetattr(0, TCSANOW, &raw)
            FileHandle.standardError.write(Data((banner + "\r\n").utf8))
        }
        defer { if interactive { tcsetattr(0, TCSANOW, &saved) } }
        var fds = [pollfd(fd: 0, events: Int16(POLLIN), revents: 0), pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            guard poll(&fds, 2, -1) >= 0 || errno == EINTR else { return 1 }
            if fds[1].revents != 0 {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { return 0 }
                _ = write(1, buffer, n)
            }
            if fds[0].revents != 0 {
                let n = read(0, &buffer, buffer.count)
                if n <= 0 { fds[0].fd = -1; continue }
                if interactive, buffer[0..<n].contains(escape) { return 0 }
                _ = write(fd, buffer, n)
            }
        }
    }
}
