internal import CLibvirt

// libvirt's C callbacks: plain functions, since closures cannot become C function pointers and
// must not be actor-isolated (they run on the event-loop thread).

func libvirtLifecycleCallback(
    _ conn: virConnectPtr?, _ domain: virDomainPtr?, _ event: Int32, _ detail: Int32, _ opaque: UnsafeMutableRawPointer?
) -> Int32 {
    guard let opaque, let domain, let name = virDomainGetName(domain) else { return 0 }
    let connection = Unmanaged<LibvirtConnection>.fromOpaque(opaque).takeUnretainedValue()
    connection.deliver(LibvirtEvent(domain: String(cString: name), kind: LibvirtEvent.Kind(rawValue: event) ?? .unknown, detail: detail))
    return 0
}

func libvirtCloseCallback(_ conn: virConnectPtr?, _ reason: Int32, _ opaque: UnsafeMutableRawPointer?) {
    guard let opaque else { return }
    Unmanaged<LibvirtConnection>.fromOpaque(opaque).takeUnretainedValue().connectionClosed(reason: reason)
}

// libvirt prints every error to stderr unless a handler is installed; errors are read back with
// virGetLastError and thrown instead.
func silenceLibvirtErrors(_ userData: UnsafeMutableRawPointer?, _ error: virErrorPtr?) {}

func libvirtEventThreadMain(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    while true { virEventRunDefaultImpl() }
}
