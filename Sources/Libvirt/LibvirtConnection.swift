internal import CLibvirt
import Glibc
import Synchronization

/// A connection to a hypervisor driver (`qemu:///system`, or `test:///default` for tests). With
/// `events`, lifecycle events arrive on libvirt's event-loop thread and a broken connection (libvirtd
/// restarted) is reported through `onClose`, so the owner can reconnect.
public final class LibvirtConnection: @unchecked Sendable {
    let handle: OpaquePointer
    private let handlers = Mutex<(event: (@Sendable (LibvirtEvent) -> Void)?, close: (@Sendable (Int32) -> Void)?)>((nil, nil))
    private var callbackID: Int32 = -1
    private var retained: Unmanaged<LibvirtConnection>?

    /// Opens a connection. Stands for `virConnectOpen`.
    public init(uri: String, events: Bool = false) throws(LibvirtError) {
        virSetErrorFunc(nil, silenceLibvirtErrors)
        if events { Self.startEventLoop() }
        guard let handle = virConnectOpen(uri) else { throw LibvirtError.last("virConnectOpen") }
        self.handle = handle
        if events {
            // a keepalive lets a dead libvirtd be noticed within seconds, not at the next call
            virConnectSetKeepAlive(handle, 5, 3)
            let me = Unmanaged.passRetained(self)
            retained = me
            let callback = unsafeBitCast(
                libvirtLifecycleCallback as @convention(c) (virConnectPtr?, virDomainPtr?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32,
                to: virConnectDomainEventGenericCallback.self)
            callbackID = virConnectDomainEventRegisterAny(handle, nil, Int32(VIR_DOMAIN_EVENT_ID_LIFECYCLE.rawValue), callback, me.toOpaque(), nil)
            virConnectRegisterCloseCallback(handle, libvirtCloseCallback, me.toOpaque(), nil)
        }
    }

    deinit { virConnectClose(handle) }

    /// Stops event delivery and drops the connection. Needed before release when events were on,
    /// because the registered callbacks keep the connection alive.
    public func close() {
        if callbackID >= 0 { virConnectDomainEventDeregisterAny(handle, callbackID) }
        virConnectUnregisterCloseCallback(handle, libvirtCloseCallback)
        callbackID = -1
        retained?.release()
        retained = nil
    }

    public func onEvent(_ handler: @escaping @Sendable (LibvirtEvent) -> Void) { handlers.withLock { $0.event = handler } }
    public func onClose(_ handler: @escaping @Sendable (Int32) -> Void) { handlers.withLock { $0.close = handler } }

    func deliver(_ event: LibvirtEvent) { handlers.withLock { $0.event }?(event) }
    func connectionClosed(reason: Int32) { handlers.withLock { $0.close }?(reason) }

    /// Whether the connection still works. Stands for `virConnectIsAlive`.
    public var isAlive: Bool { virConnectIsAlive(handle) == 1 }

    private static let eventLoop: Bool = {
        virEventRegisterDefaultImpl()
        var thread = pthread_t()
        pthread_create(&thread, nil, libvirtEventThreadMain, nil)
        pthread_detach(thread)
        return true
    }()

    /// Registers libvirt's default event loop and runs it on its own thread (once per process).
    public static func startEventLoop() { _ = eventLoop }

    /// The hypervisor's version as major.minor.release. Stands for `virConnectGetVersion`.
    public func hypervisorVersion() throws(LibvirtError) -> String {
        var version: UInt = 0
        guard virConnectGetVersion(handle, &version) == 0 else { throw LibvirtError.last("virConnectGetVersion") }
        return Self.format(version)
    }

    /// Starts a transient domain from XML. Stands for `virDomainCreateXML`.
    public func createDomain(xml: String, paused: Bool = false) throws(LibvirtError) -> LibvirtDomain {
        let flags = paused ? UInt32(VIR_DOMAIN_START_PAUSED.rawValue) : 0
        guard let domain = virDomainCreateXML(handle, xml, flags) else { throw LibvirtError.last("virDomainCreateXML") }
        return LibvirtDomain(domain)
    }

    /// Starts a domain from a saved memory image. Stands for `virDomainRestoreFlags`.
    public func restoreDomain(from path: String, xml: String?, paused: Bool = false) throws(LibvirtError) {
        let flags = UInt32(paused ? VIR_DOMAIN_SAVE_PAUSED.rawValue : VIR_DOMAIN_SAVE_RUNNING.rawValue)
        guard virDomainRestoreFlags(handle, path, xml, flags) == 0 else { throw LibvirtError.last("virDomainRestoreFlags") }
    }

    /// The domain of that name, or nil if there is none. Stands for `virDomainLookupByName`.
    public func domain(named name: String) throws(LibvirtError) -> LibvirtDomain? {
        guard let domain = virDomainLookupByName(handle, name) else {
            let error = LibvirtError.last("virDomainLookupByName")
            if error.isNoDomain { return nil }
            throw error
        }
        return LibvirtDomain(domain)
    }

    /// All domains, or only running ones. Stands for `virConnectListAllDomains`.
    public func domains(activeOnly: Bool = false) throws(LibvirtError) -> [LibvirtDomain] {
        var list: UnsafeMutablePointer<virDomainPtr?>?
        let flags = activeOnly ? UInt32(VIR_CONNECT_LIST_DOMAINS_ACTIVE.rawValue) : 0
        let count = virConnectListAllDomains(handle, &list, flags)
        guard count >= 0, let list else { throw LibvirtError.last("virConnectListAllDomains") }
        defer { free(list) }
        return (0..<Int(count)).compactMap { list[$0].map(LibvirtDomain.init) }
    }

    /// Names of the running domains.
    public func activeDomainNames() throws(LibvirtError) -> [String] { try domains(activeOnly: true).map(\.name) }

    /// The libvirt library version. Stands for `virGetVersion`.
    public static func libraryVersion() throws(LibvirtError) -> String {
        var version: UInt = 0
        guard virGetVersion(&version, nil, nil) == 0 else { throw LibvirtError.last("virGetVersion") }
        return format(version)
    }

    private static func format(_ v: UInt) -> String { "\(v / 1_000_000).\(v / 1000 % 1000).\(v % 1000)" }
}
