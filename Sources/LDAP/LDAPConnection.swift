internal import CLDAP
import Foundation

/// One connection to an LDAP server through libldap (OpenLDAP's client library): simple binds and
/// searches, over `ldap://` (optionally upgraded with StartTLS) or `ldaps://`. Blocking: every call
/// waits for the server, bounded by the connection's timeout, so callers run it on the blocking
/// executor. Not shared between threads: a login opens its own and closes it.
public final class LDAPConnection {
    private let handle: OpaquePointer
    public let url: String

    /// How the connection is secured and checked.
    public struct Security: Sendable {
        /// Upgrade an `ldap://` connection with StartTLS before anything else.
        public var startTLS = false
        /// Check the server's certificate (chain and name); off only on request.
        public var verify = true
        /// A CA certificate file to trust instead of the system's CAs.
        public var caFile: String?
        public init(startTLS: Bool = false, verify: Bool = true, caFile: String? = nil) {
            self.startTLS = startTLS
            self.verify = verify
            self.caFile = caFile
        }
    }

    /// Connects (libldap connects lazily: the first operation does, within `timeout`). Stands for
    /// `ldap_initialize`, `ldap_set_option` and, with StartTLS, `ldap_start_tls_s`.
    public init(url: String, security: Security = Security(), timeout: Double = 5) throws(LDAPError) {
        var ld: OpaquePointer?
        var rc = ldap_initialize(&ld, url)
        guard rc == LDAP_SUCCESS, let ld else { throw LDAPError(code: rc, operation: "connect to \(url)") }
        handle = ld
        self.url = url
        var version = LDAP_VERSION3
        ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version)
        var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &limit)
        ldap_set_option(ld, LDAP_OPT_TIMEOUT, &limit)
        // referrals would bind again elsewhere with our credentials: never followed
        ldap_set_option(ld, LDAP_OPT_REFERRALS, nil)
        var require = security.verify ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER
        ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &require)
        if let caFile = security.caFile {
            // PVE's `capath` names a file or a directory of hashed certificates
            var isDirectory: ObjCBool = false
            let directory = FileManager.default.fileExists(atPath: caFile, isDirectory: &isDirectory) && isDirectory.boolValue
            ldap_set_option(ld, directory ? LDAP_OPT_X_TLS_CACERTDIR : LDAP_OPT_X_TLS_CACERTFILE, caFile)
        }
        // the TLS options above are this connection's own only once a new context is made
        var server: Int32 = 0
        ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &server)
        if security.startTLS {
            rc = ldap_start_tls_s(ld, nil, nil)
            guard rc == LDAP_SUCCESS else { throw LDAPError(code: rc, operation: "StartTLS with \(url)", detail: Self.diagnostic(ld)) }
        }
    }

    deinit { ldap_unbind_ext_s(handle, nil, nil) }

    /// A simple bind as `dn` with `password` (an empty password is refused here: LDAP would take it
    /// as an anonymous bind and report success). Stands for `ldap_sasl_bind_s` with LDAP_SASL_SIMPLE.
    public func bind(dn: String, password: String) throws(LDAPError) {
        guard !password.isEmpty else { throw LDAPError(code: LDAP_INVALID_CREDENTIALS, operation: "bind as \(dn)") }
        var bytes = Array(password.utf8)
        defer { for i in bytes.indices { bytes[i] = 0 } }
        let rc = bytes.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var credentials = berval(
                bv_len: ber_len_t(buffer.count), bv_val: UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self))
            return ldap_sasl_bind_s(handle, dn, nil, &credentials, nil, nil, nil)
        }
        guard rc == LDAP_SUCCESS else { throw LDAPError(code: rc, operation: "bind as \(dn)", detail: Self.diagnostic(handle)) }
    }

    /// One entry of a search: its DN and the attributes asked for (values as text).
    public struct Entry: Sendable, Equatable {
        public let dn: String
        public let attributes: [String: [String]]
        /// The first value of `name`, matched case-insensitively (LDAP attribute names are).
        public func first(_ name: String) -> String? {
            attributes.first { $0.key.caseInsensitiveCompare(name) == .orderedSame }?.value.first
        }
    }

    public enum Scope: Sendable { case base, one, subtree }

    /// The entries below `base` matching `filter`, with `attributes` (all user attributes when
    /// empty). With `pageSize`, asks page by page (RFC 2696's paged results), which servers that
    /// cap an answer's size (Active Directory at 1,000) need for a directory of any size. Stands for
    /// `ldap_search_ext_s`, the paging control's make and parse, and the entry and value walkers.
    public func search(
        base: String, scope: Scope = .subtree, filter: String, attributes: [String] = [], sizeLimit: Int32 = 0, pageSize: Int32? = nil
    )
        throws(LDAPError) -> [Entry]
    {
        let scopeValue: Int32 =
            switch scope {
            case .base: LDAP_SCOPE_BASE
            case .one: LDAP_SCOPE_ONELEVEL
            case .subtree: LDAP_SCOPE_SUBTREE
            }
        var names = attributes.map { strdup($0) } + [nil]
        defer { names.forEach { free($0) } }
        let handle = handle
        var entries: [Entry] = []
        var cookie = berval(bv_len: 0, bv_val: nil)
        defer { if cookie.bv_val != nil { ber_memfree(cookie.bv_val) } }
        repeat {
            var page: UnsafeMutablePointer<LDAPControl>?
            if let pageSize {
                let rc = ldap_create_page_control(handle, pageSize, &cookie, 0, &page)
                guard rc == LDAP_SUCCESS else { throw LDAPError(code: rc, operation: "paged search \(base)") }
            }
            defer { if let page { ldap_control_free(page) } }
            var controls: [UnsafeMutablePointer<LDAPControl>?] = [page, nil]
            var result: OpaquePointer?
            let rc = names.withUnsafeMutableBufferPointer { buffer in
                controls.withUnsafeMutableBufferPointer { serverControls in
                    ldap_search_ext_s(
                        handle, base, scopeValue, filter, attributes.isEmpty ? nil : buffer.baseAddress, 0,
                        page == nil ? nil : serverControls.baseAddress, nil, nil, sizeLimit, &result)
                }
            }
            defer { if let result { ldap_msgfree(result) } }
            guard rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED else {
                throw LDAPError(code: rc, operation: "search \(base) for \(filter)", detail: Self.diagnostic(handle))
            }
            entries += Self.entries(handle, result)
            if cookie.bv_val != nil {
                ber_memfree(cookie.bv_val)
                cookie = berval(bv_len: 0, bv_val: nil)
            }
            guard page != nil, let result else { break }
            // the next page's cookie: none (or an empty one) when this was the last page
            var answered: UnsafeMutablePointer<UnsafeMutablePointer<LDAPControl>?>?
            var code: Int32 = 0
            guard ldap_parse_result(handle, result, &code, nil, nil, nil, &answered, 0) == LDAP_SUCCESS, let answered else { break }
            defer { ldap_controls_free(answered) }
            guard let response = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, answered, nil) else { break }
            var count: ber_int_t = 0
            guard ldap_parse_pageresponse_control(handle, response, &count, &cookie) == LDAP_SUCCESS else {
                throw LDAPError(code: LDAP_DECODING_ERROR, operation: "paged search \(base): the server's page answer")
            }
        } while cookie.bv_len > 0
        return entries
    }

    private static func entries(_ handle: OpaquePointer, _ result: OpaquePointer?) -> [Entry] {
        var entries: [Entry] = []
        var entry = ldap_first_entry(handle, result)
        while let current = entry {
            var dn = ""
            if let text = ldap_get_dn(handle, current) {
                dn = String(cString: text)
                ldap_memfree(text)
            }
            var values: [String: [String]] = [:]
            var ber: OpaquePointer?
            var name = ldap_first_attribute(handle, current, &ber)
            while let attribute = name {
                let key = String(cString: attribute)
                if let list = ldap_get_values_len(handle, current, attribute) {
                    var i = 0
                    while let value = list[i] {
                        let bytes = UnsafeRawBufferPointer(start: value.pointee.bv_val, count: Int(value.pointee.bv_len))
                        values[key, default: []].append(String(decoding: bytes, as: UTF8.self))
                        i += 1
                    }
                    ldap_value_free_len(list)
                }
                ldap_memfree(attribute)
                name = ldap_next_attribute(handle, current, ber)
            }
            if let ber { ber_free(ber, 0) }
            entries.append(Entry(dn: dn, attributes: values))
            entry = ldap_next_entry(handle, current)
        }
        return entries
    }

    /// A value made safe inside a search filter (RFC 4515: `*`, `(`, `)`, `\` and NUL escaped).
    public static func escapeFilterValue(_ value: String) -> String {
        var out: [UInt8] = []
        let hex = Array("0123456789abcdef".utf8)
        for byte in value.utf8 {
            if byte == UInt8(ascii: "*") || byte == UInt8(ascii: "(") || byte == UInt8(ascii: ")") || byte == UInt8(ascii: "\\") || byte == 0 {
                out += [UInt8(ascii: "\\"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The server's own words on the last failure, if it gave any.
    private static func diagnostic(_ ld: OpaquePointer) -> String? {
        var text: UnsafeMutablePointer<CChar>?
        guard ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &text) == LDAP_OPT_SUCCESS, let text else { return nil }
        defer { ldap_memfree(text) }
        let message = String(cString: text)
        return message.isEmpty ? nil : message
    }
}

/// A failed LDAP operation: libldap's result code and text, and what was being done.
public struct LDAPError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let operation: String
    public let detail: String?

    init(code: Int32, operation: String, detail: String? = nil) {
        self.code = code
        self.operation = operation
        self.detail = detail
    }

    public var message: String { String(cString: ldap_err2string(code)) }
    /// The server refused the credentials (as opposed to not being reachable or misconfigured).
    public var isInvalidCredentials: Bool { code == LDAP_INVALID_CREDENTIALS }
    public var description: String { "\(operation): \(message)" + (detail.map { " (\($0))" } ?? "") }
}
