import API
import Access

/// Virtual machines through libvirt.
public struct QEMUDomain: Domain {
    public let manager: VMManager
    public let access: AccessControl?

    public init(manager: VMManager, access: AccessControl?) {
        self.manager = manager
        self.access = access
    }

    public var name: String { "qemu" }
    public var endpoints: [Endpoint] { QemuEndpoints.all(manager: manager, access: access) }
}
