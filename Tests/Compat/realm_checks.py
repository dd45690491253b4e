"""LDAP and Active-Directory-style realms against a real OpenLDAP slapd (slapd_server.py).

proxmoxer (with the stage's API token) creates realms through /access/domains; users of the realm log
in through /access/ticket (proxmoxer with a password): plain LDAP with a bind DN (search, then bind as
the user), StartTLS and LDAPS with the test CA named in `capath` and `verify 1`, a failing verification
with an unrelated CA, an AD realm searching by sAMAccountName. Wrong passwords are 401; bad realm
definitions are refused in PVE's error shape and leave nothing behind; `check-connection` catches an
unreachable server and a wrong bind password before anything is stored.
"""

import time

from harness import expect, expect_eq, need


def run(c, node, verbose=False):
    from proxmoxer import ProxmoxAPI
    from proxmoxer.core import ResourceException

    secret = getattr(node, "token_secret", None)
    state = {}
    started = []

    def api():
        need(secret)
        return ProxmoxAPI(node.host, user=node.USER, token_name="ci", token_value=secret, verify_ssl=False, timeout=30)

    def login(user, password):
        return ProxmoxAPI(node.host, user=user, password=password, verify_ssl=False, timeout=30)

    def refused(user, password):
        try:
            login(user, password)
        except Exception as e:  # noqa: BLE001 - proxmoxer raises its AuthenticationError
            return str(e)
        raise AssertionError(f"{user} logged in with a wrong password")

    def setup():
        from slapd_server import Slapd
        server = Slapd(node.tmp / "slapd").start()
        started.append(server)
        server.add_user("alice", "alice-secret-1", sam="alice", upn="alice@corral.test")
        server.add_user("bob", "bob-secret-22", sam="bob", upn="bob@corral.test")
        state.update(api=api(), ldap=server)
        return server.url

    url = c.check("realms: setup (slapd with users, a CA for TLS)", setup)

    def create_ldap():
        need(url)
        a, ldap = state["api"], state["ldap"]
        a.access.domains.post(realm="corp", type="ldap", server1="127.0.0.1", port=ldap.port,
                              base_dn=ldap.people_dn, user_attr="uid", bind_dn=ldap.bind_dn, password=ldap.bind_password,
                              comment="Corporate directory", **{"check-connection": 1})
        one = a.access.domains("corp").get()
        expect_eq((one["type"], one["server1"], one["user_attr"]), ("ldap", "127.0.0.1", "uid"), "stored realm")
        expect("password" not in one, f"the bind password shows: {one}")
        text = (node.mount / "domains.cfg").read_text()
        expect("ldap: corp" in text and ldap.bind_password not in text, f"domains.cfg:\n{text}")
        expect_eq((node.mount / "priv" / "realm" / "corp.pw").read_text(), ldap.bind_password, "bind password file")
        expect("corp" in [r["realm"] for r in a.access.domains.get()], "listed for the login form")
        a.access.users.post(userid="alice@corp", comment="from the directory")
        return True

    made = c.check("realms: an LDAP realm is created (domains.cfg, bind password kept apart)", create_ldap)

    def ldap_login():
        need(made)
        api_alice = login("alice@corp", "alice-secret-1")
        expect(api_alice.version.get().get("version"), "a call as alice")
        message = refused("alice@corp", "not-her-password")
        expect("401" in message or "authentication" in message.lower(), message)
        # not in user.cfg: the directory alone does not let bob in (PVE's rule: add or sync users)
        refused("bob@corp", "bob-secret-22")
        return True

    c.check("realms: an LDAP user logs in by bind; a wrong password is 401", ldap_login)

    def tls_modes():
        need(made)
        a, ldap = state["api"], state["ldap"]
        a.access.domains("corp").put(mode="ldap+starttls", verify=1, capath=ldap.ca_file)
        login("alice@corp", "alice-secret-1")
        a.access.domains("corp").put(mode="ldaps", port=ldap.ldaps_port, verify=1, capath=ldap.ca_file)
        login("alice@corp", "alice-secret-1")
        # a CA that did not sign the server's certificate: verification fails, so does the login
        a.access.domains("corp").put(capath=ldap.other_ca_file)
        refused("alice@corp", "alice-secret-1")
        a.access.domains("corp").put(mode="ldap", port=ldap.port, delete="verify,capath")
        login("alice@corp", "alice-secret-1")
        return True

    c.check("realms: StartTLS and LDAPS with the CA named; another CA fails the login", tls_modes)

    def ad_realm():
        need(made)
        a, ldap = state["api"], state["ldap"]
        a.access.domains.post(realm="ad", type="ad", server1="127.0.0.1", port=ldap.port, domain="corral.test",
                              base_dn=ldap.people_dn, bind_dn=ldap.bind_dn, password=ldap.bind_password)
        a.access.users.post(userid="bob@ad")
        login("bob@ad", "bob-secret-22")
        refused("bob@ad", "alice-secret-1")
        return True

    c.check("realms: an AD realm finds users by sAMAccountName", ad_realm)

    def bad_input():
        need(made)
        a, ldap = state["api"], state["ldap"]
        before = (node.mount / "domains.cfg").read_text()
        cases = [
            ("unbalanced filter", dict(realm="bad1", type="ldap", server1="127.0.0.1", base_dn="dc=x", user_attr="uid", filter="(&(a=b)"),
             400, "filter"),
            ("ldap without base_dn", dict(realm="bad2", type="ldap", server1="127.0.0.1", user_attr="uid"), 400, "base_dn"),
            ("ad without domain", dict(realm="bad3", type="ad", server1="127.0.0.1"), 400, "domain"),
            ("an option of no realm", dict(realm="bad4", type="ldap", server1="127.0.0.1", base_dn="dc=x", user_attr="uid",
                                           **{"client-id": "x"}), 400, "client-id"),
            ("unreachable server", dict(realm="bad5", type="ldap", server1="127.0.0.1", port=1, base_dn="dc=x", user_attr="uid",
                                        **{"check-connection": 1}), 400, "cannot reach"),
            ("wrong bind password", dict(realm="bad6", type="ldap", server1="127.0.0.1", port=ldap.port, base_dn=ldap.people_dn,
                                         user_attr="uid", bind_dn=ldap.bind_dn, password="wrong", **{"check-connection": 1}),
             400, "cannot reach"),
            ("a second pam realm", dict(realm="pam2", type="pam"), 400, "type"),
            ("existing realm", dict(realm="corp", type="ldap", server1="127.0.0.1", base_dn="dc=x", user_attr="uid"), 500,
             "already exists"),
        ]
        for label, params, status, text in cases:
            try:
                a.access.domains.post(**params)
            except ResourceException as e:
                expect_eq(e.status_code, status, label)
                expect(text in f"{e.content} {e.errors}", f"{label}: {e.content} {e.errors}")
            else:
                raise AssertionError(f"{label}: accepted")
        expect_eq((node.mount / "domains.cfg").read_text(), before, "domains.cfg after refused creates")
        expect(not any((node.mount / "priv" / "realm").glob("bad*")), "password files of refused realms")
        return True

    c.check("realms: bad realm definitions are refused and leave nothing behind", bad_input)

    def remove():
        need(made)
        a = state["api"]
        for realm in ("ad", "corp"):
            a.access.domains(realm).delete()
        expect(not (node.mount / "priv" / "realm" / "corp.pw").exists(), "bind password file after removal")
        listed = [r["realm"] for r in a.access.domains.get()]
        expect("corp" not in listed and "pam" in listed and "pve" in listed, f"realms {listed}")
        try:
            a.access.domains("pam").delete()
        except ResourceException as e:
            expect_eq(e.status_code, 500, "removing pam")
        else:
            raise AssertionError("pam removed")
        for user in ("alice@corp", "bob@ad"):
            a.access.users(user).delete()
        return True

    c.check("realms: realms removed (their bind passwords with them; pam stays)", remove)

    for daemon in reversed(started):
        try:
            daemon.stop()
        except Exception:  # noqa: BLE001 - cleanup
            pass
