import Testing

@testable import Guests

/// PVE's `startup` property and the order `startall` goes in.
@Suite struct GuestStartupOrderTests {
    @Test func parsesStartup() {
        #expect(GuestBackends.startup("order=2,up=30,down=60") == (2, 30, 60))
        #expect(GuestBackends.startup("3") == (3, nil, nil), "a bare number is the order")
        #expect(GuestBackends.startup(nil) == (nil, nil, nil))
    }

    @Test func startOrderPutsUnorderedLast() {
        func guest(_ vmid: Int, _ order: Int?) -> GuestBackends.BulkGuest {
            GuestBackends.BulkGuest(vmid: vmid, type: "lxc", order: order, up: nil, down: nil, onboot: true, template: false)
        }
        let order = GuestBackends.startOrder([guest(105, nil), guest(101, 2), guest(103, 1), guest(100, nil), guest(102, 1)]).map(\.vmid)
        #expect(order == [102, 103, 101, 100, 105])
    }
}
