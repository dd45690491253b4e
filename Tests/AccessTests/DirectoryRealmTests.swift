import LDAP
import Schema
import Testing

@testable import AccessAPI

/// What a directory realm's definition and a user's name may do to the searches made with them.
@Suite struct DirectoryRealmTests {
    @Test func userNamesCannotWidenTheSearch() {
        #expect(LDAPConnection.escapeFilterValue("alice") == "alice")
        // a name like `*` or `a)(uid=*` must match itself only
        #expect(LDAPConnection.escapeFilterValue("*") == "\\2a")
        #expect(LDAPConnection.escapeFilterValue("a)(uid=*") == "a\\29\\28uid=\\2a")
        #expect(LDAPConnection.escapeFilterValue("back\\slash") == "back\\5cslash")
    }

    @Test func filtersMustBalance() {
        #expect(RealmEndpoints.balanced("(objectClass=person)"))
        #expect(RealmEndpoints.balanced("(&(a=b)(|(c=d)(e=\\29)))"))
        #expect(!RealmEndpoints.balanced("(&(a=b)"))
        #expect(!RealmEndpoints.balanced("a=b)("))
    }

    @Test func realmsAreWrittenSortedWithoutEmptyOptions() {
        var section = SectionConfig.Section(type: "ldap", id: "corp")
        section["user_attr"] = "uid"
        section["base_dn"] = "dc=corral,dc=test"
        section["comment"] = ""
        section["server1"] = "ldap.example"
        let text = SectionConfig(sections: [RealmEndpoints.ordered(section)]).serialized()
        #expect(text == "ldap: corp\n\tbase_dn dc=corral,dc=test\n\tserver1 ldap.example\n\tuser_attr uid\n")
    }
}
