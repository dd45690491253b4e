internal import COpenSSL

/// An OpenSSL failure: the function that failed and the error queue's text at that moment.
public struct TLSError: Error, CustomStringConvertible {
    public let function: String
    public let message: String
    public var description: String { "\(function): \(message)" }

    /// Drains OpenSSL's thread-local error queue into one message, so the next call starts clean.
    static func drain(_ function: String) -> TLSError {
        var parts: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            parts.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return TLSError(function: function, message: parts.isEmpty ? "unknown error" : parts.joined(separator: "; "))
    }
}
