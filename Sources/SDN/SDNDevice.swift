/// A network device the SDN configuration gives a node: a vnet's bridge, a VXLAN tunnel, a VLAN
/// device. Recorded after each apply, so the next apply knows what it made.
public struct SDNDevice: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case bridge, vxlan, vlan }
    public var name: String
    public var kind: Kind
    public var zone: String
    /// The bridge this device is a port of.
    public var master: String?
    public var mtu: Int?
    /// `address/prefix` on the device (a simple zone's gateways).
    public var addresses: [String] = []
    /// VXLAN: the VNI, UDP port and the peers' addresses; VLAN: the lower device, id and protocol.
    public var vni: Int?
    public var port: Int?
    public var remotes: [String] = []
    public var lower: String?
    public var vlan: Int?
    public var vlanProtocol: String?

    public init(name: String, kind: Kind, zone: String) {
        self.name = name
        self.kind = kind
        self.zone = zone
    }

    /// Two records that need a new device rather than a change (the kernel cannot change them in place).
    func sameIdentity(_ other: SDNDevice) -> Bool {
        kind == other.kind && vni == other.vni && port == other.port && lower == other.lower && vlan == other.vlan
            && vlanProtocol == other.vlanProtocol
    }
}
