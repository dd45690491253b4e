/// Named services a rule may use instead of a protocol and ports (`SSH(ACCEPT)`): each expands to
/// one match per protocol/port entry, every other part of the rule kept. The names are PVE's, so
/// files written by PVE compile here; the descriptions are ours.
public enum FirewallMacros {
    public struct Entry: Sendable {
        public let proto: String
        public let dport: String?
        public let sport: String?
        init(_ proto: String, _ dport: String? = nil, sport: String? = nil) {
            self.proto = proto
            self.dport = dport
            self.sport = sport
        }
    }

    public struct Macro: Sendable {
        public let name: String
        public let description: String
        public let entries: [Entry]
    }

    public static func lookup(_ name: String) -> Macro? { byName[name.lowercased()] }

    static let byName: [String: Macro] = Dictionary(uniqueKeysWithValues: all.map { ($0.name.lowercased(), $0) })

    public static let all: [Macro] = [
        Macro(name: "Amanda", description: "Amanda backup", entries: [Entry("udp", "10080"), Entry("tcp", "10080")]),
        Macro(name: "Auth", description: "Ident (auth) service", entries: [Entry("tcp", "113")]),
        Macro(name: "BGP", description: "Border Gateway Protocol", entries: [Entry("tcp", "179")]),
        Macro(name: "BitTorrent", description: "BitTorrent traffic", entries: [Entry("tcp", "6881:6889"), Entry("udp", "6881")]),
        Macro(
            name: "Ceph", description: "Ceph monitors, OSDs and MDS",
            entries: [Entry("tcp", "6789"), Entry("tcp", "3300"), Entry("tcp", "6800:7300")]),
        Macro(name: "CVS", description: "CVS pserver", entries: [Entry("tcp", "2401")]),
        Macro(
            name: "Citrix", description: "Citrix ICA and related ports", entries: [Entry("tcp", "1494"), Entry("udp", "1604"), Entry("tcp", "2598")]),
        Macro(name: "DAAP", description: "Digital audio access protocol", entries: [Entry("tcp", "3689"), Entry("udp", "3689")]),
        Macro(name: "DCC", description: "IRC direct client-to-client", entries: [Entry("tcp", "6837")]),
        Macro(name: "DHCPfwd", description: "Forwarded DHCP traffic", entries: [Entry("udp", "67:68", sport: "67:68")]),
        Macro(name: "DHCPv6", description: "DHCPv6 traffic", entries: [Entry("udp", "546:547", sport: "546:547")]),
        Macro(name: "DNS", description: "Domain name service (UDP and TCP)", entries: [Entry("udp", "53"), Entry("tcp", "53")]),
        Macro(name: "Distcc", description: "Distributed compiler", entries: [Entry("tcp", "3632")]),
        Macro(name: "FTP", description: "File transfer protocol", entries: [Entry("tcp", "21")]),
        Macro(name: "Finger", description: "Finger protocol", entries: [Entry("tcp", "79")]),
        Macro(name: "GNUnet", description: "GNUnet peer-to-peer", entries: [Entry("tcp", "2086"), Entry("udp", "2086"), Entry("tcp", "1080")]),
        Macro(name: "GRE", description: "Generic routing encapsulation", entries: [Entry("47")]),
        Macro(name: "Git", description: "Git daemon", entries: [Entry("tcp", "9418")]),
        Macro(name: "HKP", description: "OpenPGP key server", entries: [Entry("tcp", "11371")]),
        Macro(name: "HTTP", description: "Plain web traffic", entries: [Entry("tcp", "80")]),
        Macro(name: "HTTPS", description: "Web traffic over TLS", entries: [Entry("tcp", "443")]),
        Macro(name: "ICPV2", description: "Internet cache protocol v2", entries: [Entry("udp", "3130")]),
        Macro(name: "ICQ", description: "ICQ chat", entries: [Entry("tcp", "5190")]),
        Macro(name: "IMAP", description: "Mail access (IMAP)", entries: [Entry("tcp", "143")]),
        Macro(name: "IMAPS", description: "Mail access (IMAP over TLS)", entries: [Entry("tcp", "993")]),
        Macro(name: "IPIP", description: "IP in IP tunnels", entries: [Entry("4")]),
        Macro(name: "IPsec", description: "IPsec with IKE", entries: [Entry("udp", "500", sport: "500"), Entry("50")]),
        Macro(name: "IPsecah", description: "IPsec authentication header with IKE", entries: [Entry("udp", "500", sport: "500"), Entry("51")]),
        Macro(name: "IPsecnat", description: "IPsec with NAT traversal", entries: [Entry("udp", "500"), Entry("udp", "4500"), Entry("50")]),
        Macro(name: "IRC", description: "Internet relay chat", entries: [Entry("tcp", "6667")]),
        Macro(name: "Jetdirect", description: "Network printing (port 9100)", entries: [Entry("tcp", "9100")]),
        Macro(name: "L2TP", description: "Layer 2 tunneling", entries: [Entry("udp", "1701")]),
        Macro(name: "LDAP", description: "Directory access (LDAP)", entries: [Entry("tcp", "389")]),
        Macro(name: "LDAPS", description: "Directory access (LDAP over TLS)", entries: [Entry("tcp", "636")]),
        Macro(name: "MDNS", description: "Multicast DNS", entries: [Entry("udp", "5353")]),
        Macro(name: "MSNP", description: "Microsoft notification protocol", entries: [Entry("tcp", "1863")]),
        Macro(name: "MSSQL", description: "Microsoft SQL server", entries: [Entry("tcp", "1433")]),
        Macro(
            name: "Mail", description: "Mail submission and relay (25, 465, 587)",
            entries: [Entry("tcp", "25"), Entry("tcp", "465"), Entry("tcp", "587")]),
        Macro(name: "Munin", description: "Munin monitoring", entries: [Entry("tcp", "4949")]),
        Macro(name: "MySQL", description: "MySQL and MariaDB server", entries: [Entry("tcp", "3306")]),
        Macro(name: "NNTP", description: "Usenet news", entries: [Entry("tcp", "119")]),
        Macro(name: "NNTPS", description: "Usenet news over TLS", entries: [Entry("tcp", "563")]),
        Macro(name: "NTP", description: "Network time protocol", entries: [Entry("udp", "123")]),
        Macro(
            name: "NeighborDiscovery", description: "IPv6 neighbour and router discovery",
            entries: [
                Entry("icmpv6", "router-solicitation"), Entry("icmpv6", "router-advertisement"), Entry("icmpv6", "neighbor-solicitation"),
                Entry("icmpv6", "neighbor-advertisement"),
            ]),
        Macro(name: "OSPF", description: "Open shortest path first routing", entries: [Entry("89")]),
        Macro(name: "OpenVPN", description: "OpenVPN (UDP 1194)", entries: [Entry("udp", "1194")]),
        Macro(name: "PCA", description: "Symantec pcAnywhere", entries: [Entry("udp", "5632"), Entry("tcp", "5631")]),
        Macro(name: "PMG", description: "Mail gateway web interface", entries: [Entry("tcp", "8006")]),
        Macro(name: "POP3", description: "Mail retrieval (POP3)", entries: [Entry("tcp", "110")]),
        Macro(name: "POP3S", description: "Mail retrieval (POP3 over TLS)", entries: [Entry("tcp", "995")]),
        Macro(name: "PPtP", description: "Point-to-point tunneling", entries: [Entry("47"), Entry("tcp", "1723")]),
        Macro(name: "Ping", description: "ICMP echo request", entries: [Entry("icmp", "echo-request")]),
        Macro(name: "PostgreSQL", description: "PostgreSQL server", entries: [Entry("tcp", "5432")]),
        Macro(name: "Printer", description: "Line printer daemon", entries: [Entry("tcp", "515")]),
        Macro(name: "RDP", description: "Remote desktop protocol", entries: [Entry("tcp", "3389")]),
        Macro(name: "RIP", description: "Routing information protocol", entries: [Entry("udp", "520")]),
        Macro(name: "RNDC", description: "BIND remote control", entries: [Entry("tcp", "953")]),
        Macro(name: "Razor", description: "Razor anti-spam", entries: [Entry("tcp", "2703")]),
        Macro(name: "Rdate", description: "Remote time retrieval", entries: [Entry("tcp", "37")]),
        Macro(name: "Rsync", description: "Rsync daemon", entries: [Entry("tcp", "873")]),
        Macro(name: "SANE", description: "Network scanner access", entries: [Entry("tcp", "6566")]),
        Macro(
            name: "SMB", description: "Windows file sharing",
            entries: [
                Entry("udp", "135,445"), Entry("udp", "137:139"), Entry("udp", "1024:65535", sport: "137"), Entry("tcp", "135,139,445"),
            ]),
        Macro(name: "SMBswat", description: "Samba web administration", entries: [Entry("tcp", "901")]),
        Macro(name: "SMTP", description: "Mail relay (SMTP)", entries: [Entry("tcp", "25")]),
        Macro(name: "SMTPS", description: "Mail relay over TLS", entries: [Entry("tcp", "465")]),
        Macro(name: "SNMP", description: "Network management", entries: [Entry("udp", "161:162"), Entry("tcp", "161")]),
        Macro(name: "SPAMD", description: "SpamAssassin daemon", entries: [Entry("tcp", "783")]),
        Macro(name: "SSH", description: "Secure shell", entries: [Entry("tcp", "22")]),
        Macro(name: "SVN", description: "Subversion server", entries: [Entry("tcp", "3690")]),
        Macro(
            name: "SixXS", description: "SixXS IPv6 tunnels",
            entries: [Entry("tcp", "3874"), Entry("udp", "3740"), Entry("41"), Entry("udp", "5072,8374")]),
        Macro(name: "Squid", description: "Squid web proxy", entries: [Entry("tcp", "3128")]),
        Macro(name: "Submission", description: "Mail submission", entries: [Entry("tcp", "587")]),
        Macro(name: "Syslog", description: "System logging", entries: [Entry("udp", "514"), Entry("tcp", "514")]),
        Macro(name: "TFTP", description: "Trivial file transfer", entries: [Entry("udp", "69")]),
        Macro(name: "Telnet", description: "Telnet", entries: [Entry("tcp", "23")]),
        Macro(name: "Telnets", description: "Telnet over TLS", entries: [Entry("tcp", "992")]),
        Macro(name: "Time", description: "RFC 868 time", entries: [Entry("tcp", "37")]),
        Macro(
            name: "Trcrt", description: "Traceroute (UDP 33434-33524 and ping)",
            entries: [Entry("udp", "33434:33524"), Entry("icmp", "echo-request")]),
        Macro(name: "VNC", description: "VNC displays 0 to 99", entries: [Entry("tcp", "5900:5999")]),
        Macro(name: "VNCL", description: "VNC listening viewers", entries: [Entry("tcp", "5500")]),
        Macro(name: "Web", description: "Web traffic (HTTP and HTTPS)", entries: [Entry("tcp", "80"), Entry("tcp", "443")]),
        Macro(name: "Webcache", description: "Web caches (port 8080)", entries: [Entry("tcp", "8080")]),
        Macro(name: "Webmin", description: "Webmin administration", entries: [Entry("tcp", "10000")]),
        Macro(name: "Whois", description: "Whois queries", entries: [Entry("tcp", "43")]),
    ]
}
