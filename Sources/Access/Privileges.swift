/// PVE 9's privileges and built-in roles. Built-in roles cannot be changed and are never written to
/// user.cfg; their privilege sets follow PVE's tiers (see the access-control README).
public enum Privileges {
    public static let all: [String] = [
        "Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate", "Datastore.Audit",
        "Group.Allocate",
        "Mapping.Audit", "Mapping.Modify", "Mapping.Use",
        "Permissions.Modify",
        "Pool.Allocate", "Pool.Audit",
        "Realm.Allocate", "Realm.AllocateUser",
        "SDN.Allocate", "SDN.Audit", "SDN.Use",
        "Sys.AccessNetwork", "Sys.Audit", "Sys.Console", "Sys.Incoming", "Sys.Modify", "Sys.PowerMgmt", "Sys.Syslog",
        "User.Modify",
        "VM.Allocate", "VM.Audit", "VM.Backup", "VM.Clone", "VM.Config.CDROM", "VM.Config.CPU", "VM.Config.Cloudinit",
        "VM.Config.Disk", "VM.Config.HWType", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options", "VM.Console",
        "VM.GuestAgent.Audit", "VM.GuestAgent.FileRead", "VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.FileWrite",
        "VM.GuestAgent.Unrestricted", "VM.Migrate", "VM.PowerMgmt", "VM.Replicate", "VM.Snapshot", "VM.Snapshot.Rollback",
    ]

    public static let allSet = Set(all)

    private static let vmPrivileges = all.filter { $0.hasPrefix("VM.") }
    private static let vmUser: Set<String> = [
        "VM.Audit", "VM.Backup", "VM.Config.CDROM", "VM.Config.Cloudinit", "VM.Console", "VM.GuestAgent.Audit",
        "VM.GuestAgent.FileRead", "VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.FileWrite", "VM.PowerMgmt",
    ]
    /// Only Administrator has these.
    private static let rootOnly: Set<String> = [
        "Permissions.Modify", "Realm.Allocate", "Sys.PowerMgmt", "Sys.Modify", "Sys.Incoming", "Sys.AccessNetwork", "Mapping.Modify",
    ]

    public static let builtinRoles: [String: Set<String>] = [
        "Administrator": allSet,
        "NoAccess": [],
        "PVEAdmin": allSet.subtracting(rootOnly),
        "PVEAuditor": ["Datastore.Audit", "Mapping.Audit", "Pool.Audit", "SDN.Audit", "Sys.Audit", "VM.Audit", "VM.GuestAgent.Audit"],
        "PVEVMAdmin": Set(vmPrivileges),
        "PVEVMUser": vmUser,
        "PVEDatastoreAdmin": ["Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate", "Datastore.Audit"],
        "PVEDatastoreUser": ["Datastore.AllocateSpace", "Datastore.Audit"],
        "PVESysAdmin": ["Sys.Audit", "Sys.Console", "Sys.Syslog"],
        "PVEUserAdmin": ["Group.Allocate", "Realm.AllocateUser", "User.Modify"],
        "PVEPoolAdmin": ["Pool.Allocate", "Pool.Audit"],
        "PVEPoolUser": ["Pool.Audit"],
        "PVETemplateUser": ["VM.Audit", "VM.Clone"],
        "PVESDNAdmin": ["SDN.Allocate", "SDN.Audit", "SDN.Use"],
        "PVESDNUser": ["SDN.Audit", "SDN.Use"],
        "PVEMappingAdmin": ["Mapping.Audit", "Mapping.Modify", "Mapping.Use"],
        "PVEMappingUser": ["Mapping.Audit", "Mapping.Use"],
    ]
}
