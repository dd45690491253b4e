"""LDAP and Active-Directory-style realms against a real OpenLDAP slapd (ldap_server.py).

proxmoxer (with the stage's API token) creates realms through /access/domains; users of the realm log
in through /access/ticket (proxmoxer with a password): plain LDAP with a read-only bind DN (search, then
bind as the user), StartTLS and LDAPS with the test CA named in `capath` and `verify 1`, a failing
verification with an unrelated CA, an AD realm by sAMAccountName and one by user principal name (through
ldap_server's AD front). Wrong passwords are 401; bad realm definitions are refused in PVE's error shape
and leave nothing behind. Realm sync: a dry run that lists and changes nothing, a sync of users, groups
and their attributes, `enable-new`, every `remove-vanished` option after users leave the directory, and
syncs that fail (wrong bind password, no scope, unknown realm, a pam realm) changing nothing; `pveum
realm sync` runs one from the command line.
"""

import json
import os
import subprocess
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

    def user_cfg():
        return (node.mount / "user.cfg").read_text()

    def setup():
        import ldap_server
        ldap_server.ensure_installed()
        server = ldap_server.LDAPServer(node.tmp / "ldap")
        started.append(server)
        server.start()
        state.update(api=api(), ldap=server)
        return server.url

    url = c.check("realms: setup (slapd with users and groups, a CA for TLS, an AD front)", setup)

    def create_ldap():
        need(url)
        a, ldap = state["api"], state["ldap"]
        a.access.domains.post(realm="corp", type="ldap", server1="127.0.0.1", port=ldap.port,
                              base_dn=ldap.base_dn, user_attr="uid", bind_dn=ldap.reader_dn, password=ldap.reader_password,
                              comment="Corporate directory", sync_attributes="email=mail,firstname=givenName,lastname=sn",
                              group_classes="groupOfNames,groupOfUniqueNames,group",
                              **{"check-connection": 1})
        one = a.access.domains("corp").get()
        expect_eq((one["type"], one["server1"], one["user_attr"]), ("ldap", "127.0.0.1", "uid"), "stored realm")
        expect("password" not in one, f"the bind password shows: {one}")
        text = (node.mount / "domains.cfg").read_text()
        expect("ldap: corp" in text and ldap.reader_password not in text, f"domains.cfg:\n{text}")
        expect_eq((node.mount / "priv" / "realm" / "corp.pw").read_text(), ldap.reader_password, "bind password file")
        expect("corp" in [r["realm"] for r in a.access.domains.get()], "listed for the login form")
        a.access.users.post(userid="alice@corp", comment="from the directory")
        return True

    made = c.check("realms: an LDAP realm is created (domains.cfg, bind password kept apart)", create_ldap)

    def ldap_login():
        need(made)
        api_alice = login("alice@corp", "alice-secret")
        expect(api_alice.version.get().get("version"), "a call as alice")
        message = refused("alice@corp", "not-her-password")
        expect("401" in message or "authentication" in message.lower(), message)
        # not in user.cfg: the directory alone does not let bob in (PVE's rule: add or sync users)
        refused("bob@corp", "bob-secret")
        binds = [l for l in state["ldap"].ops() if 'BIND dn="uid=alice,' in l]
        expect(binds, "slapd saw no bind as alice's entry")
        # case-sensitive 0: another spelling logs in as the stored user
        a = state["api"]
        try:
            login("ALICE@corp", "alice-secret")
        except Exception:  # noqa: BLE001 - expected: the realm is case-sensitive by default
            pass
        else:
            raise AssertionError("ALICE@corp logged in to a case-sensitive realm")
        a.access.domains("corp").put(**{"case-sensitive": 0})
        import requests
        answer = requests.post(f"{node.url}/api2/json/access/ticket", data={"username": "ALICE@corp", "password": "alice-secret"},
                               verify=False, timeout=30).json()["data"]
        expect_eq(answer.get("username"), "alice@corp", "the ticket's user")
        a.access.domains("corp").put(delete="case-sensitive")
        return True

    c.check("realms: an LDAP user logs in by bind; a wrong password is 401", ldap_login)

    def tls_modes():
        need(made)
        a, ldap = state["api"], state["ldap"]
        a.access.domains("corp").put(mode="ldap+starttls", verify=1, capath=str(ldap.ca_file))
        login("alice@corp", "alice-secret")
        a.access.domains("corp").put(mode="ldaps", port=ldap.ldaps_port, verify=1, capath=str(ldap.ca_dir))
        login("alice@corp", "alice-secret")
        # a CA that did not sign the server's certificate: verification fails, so does the login
        a.access.domains("corp").put(capath=str(ldap.other_ca_file))
        refused("alice@corp", "alice-secret")
        a.access.domains("corp").put(mode="ldap", port=ldap.port, delete="verify,capath")
        login("alice@corp", "alice-secret")
        return True

    c.check("realms: StartTLS and LDAPS with the CA named (file and hashed directory); another CA fails the login", tls_modes)

    def ad_realms():
        need(made)
        a, ldap = state["api"], state["ldap"]
        # searched by sAMAccountName as the reader
        a.access.domains.post(realm="ad", type="ad", server1="127.0.0.1", port=ldap.port, domain=ldap.domain,
                              base_dn=ldap.base_dn, bind_dn=ldap.reader_dn, password=ldap.reader_password)
        a.access.users.post(userid="bob@ad")
        login("bob@ad", "bob-secret")
        refused("bob@ad", "alice-secret")
        # no bind DN: the user's own bind as <name>@<domain>, which the AD front resolves (dnull → cn=Dave Null)
        a.access.domains.post(realm="adupn", type="ad", server1="127.0.0.1", port=ldap.ad_port, domain=ldap.domain)
        a.access.users.post(userid="dnull@adupn")
        login("dnull@adupn", "dave-secret")
        refused("dnull@adupn", "bob-secret")
        expect(any(name == "dnull@corral.test" and dn.startswith("cn=Dave Null,") for name, dn in ldap.ad_binds),
               f"AD front binds: {ldap.ad_binds}")
        return True

    c.check("realms: AD realms: by sAMAccountName, and by user principal name without a bind DN", ad_realms)

    def webauthn():
        need(made)
        import requests
        from soft_authenticator import SoftAuthenticator, tfa_options
        a = state["api"]
        origin = "https://localhost:8006"

        def post(path, **data):
            r = requests.post(f"{node.url}/api2/json{path}", data=data, verify=False, timeout=30, **state.get("alice_auth", {}))
            return r.status_code, (r.json() if r.headers.get("content-type", "").startswith("application/json") else {})

        # WebAuthn is refused until the datacenter names a relying party
        status, body = post("/access/ticket", username="alice@corp", password="alice-secret")
        expect_eq(status, 200, f"alice's login {body}")
        auth = body["data"]
        state["alice_auth"] = {"headers": {"CSRFPreventionToken": auth["CSRFPreventionToken"]}, "cookies": {"PVEAuthCookie": auth["ticket"]}}
        status, body = post("/access/tfa/alice@corp", type="webauthn", description="key", password="alice-secret")
        expect(status == 500 and "no webauthn configuration" in str(body), f"{status} {body}")
        a.cluster.options.put(webauthn=f"rp=Corral,id=localhost,origin={origin}")
        # registration: the challenge, then the key's answer (self-attested 'packed')
        key = SoftAuthenticator(origin, attestation="packed")
        status, body = post("/access/tfa/alice@corp", type="webauthn", description="yubikey", password="alice-secret")
        expect_eq(status, 200, f"registration challenge {body}")
        options = body["data"]["challenge"]
        public = json.loads(options)["publicKey"]
        expect_eq((public["rp"]["id"], public["user"]["name"], public["attestation"]), ("localhost", "alice@corp", "none"), "creation options")
        # an answer from another origin is refused, and uses the challenge up
        status, body = post("/access/tfa/alice@corp", type="webauthn", challenge=public["challenge"], password="alice-secret",
                            value=json.dumps(key.create(options, origin="https://evil.example:8006")))
        expect(status == 400 and "origin" in json.dumps(body), f"{status} {body}")
        status, body = post("/access/tfa/alice@corp", type="webauthn", description="yubikey", password="alice-secret")
        options = body["data"]["challenge"]
        status, body = post("/access/tfa/alice@corp", type="webauthn", challenge=json.loads(options)["publicKey"]["challenge"],
                            password="alice-secret", value=json.dumps(key.create(options)))
        expect_eq(status, 200, f"registration {body}")
        entries = a.access.tfa("alice@corp").get()
        expect([(e["type"], e["description"]) for e in entries] == [("webauthn", "yubikey")], f"entries {entries}")
        stored = json.loads((node.mount / "priv" / "tfa.cfg").read_text())["users"]["alice@corp"]["webauthn"][0]["entry"]
        expect(stored["cred"]["type_"] == "ES256" and "EC_EC2" in stored["cred"]["key"] and stored["cred_id"], f"tfa.cfg entry {stored}")
        # login: a partial ticket with the request options, then the key's assertion
        state.pop("alice_auth")
        status, body = post("/access/ticket", username="alice@corp", password="alice-secret")
        expect(status == 200 and body["data"].get("NeedTFA") == 1, f"first step {body}")
        partial = body["data"]["ticket"]
        challenge = tfa_options(partial)["webauthn"]
        expect_eq(challenge["publicKey"]["rpId"], "localhost", "request options")
        answer = key.get(challenge)
        status, body = post("/access/ticket", username="alice@corp", password="webauthn:" + json.dumps(answer), **{"tfa-challenge": partial})
        expect(status == 200 and body["data"].get("ticket", "").startswith("PVE:alice@corp:"), f"second step {status} {body}")
        full = body["data"]
        # the same answer again: its challenge was used
        status, _ = post("/access/ticket", username="alice@corp", password="webauthn:" + json.dumps(answer), **{"tfa-challenge": partial})
        expect_eq(status, 401, "a replayed answer")
        # a key whose counter went back (a clone) is refused
        status, body = post("/access/ticket", username="alice@corp", password="alice-secret")
        partial = body["data"]["ticket"]
        answer = key.get(tfa_options(partial)["webauthn"], counter=1)
        status, _ = post("/access/ticket", username="alice@corp", password="webauthn:" + json.dumps(answer), **{"tfa-challenge": partial})
        expect_eq(status, 401, "a counter that went back")
        # removing the key lets alice in with her password alone again
        r = requests.delete(f"{node.url}/api2/json/access/tfa/alice@corp/{entries[0]['id']}", params={"password": "alice-secret"},
                            headers={"CSRFPreventionToken": full["CSRFPreventionToken"]}, cookies={"PVEAuthCookie": full["ticket"]},
                            verify=False, timeout=30)
        expect_eq(r.status_code, 200, f"removing the key: {r.text}")
        status, body = post("/access/ticket", username="alice@corp", password="alice-secret")
        expect(status == 200 and "NeedTFA" not in body["data"], f"after removal {body}")
        a.cluster.options.put(delete="webauthn")
        return True

    c.check("realms: WebAuthn second factor for a directory user (software ES256 key): register, log in, replay and clone refused",
            webauthn)

    def openid():
        import requests
        import urllib.parse
        import oidc_provider
        a = state["api"]
        oidc_provider.ensure_installed()
        op = oidc_provider.OIDCProvider(node.tmp / "oidc", redirect_uris=[node.url])
        started.append(op)
        op.start()
        a.access.domains.post(realm="oidc", type="openid", **{"issuer-url": op.issuer, "client-id": op.client_id,
                              "client-key": op.client_secret, "username-claim": "preferred_username", "autocreate": 1,
                              "groups-claim": "groups", "groups-autocreate": 1}, comment="Glewlwyd")
        listed = {r["realm"]: r for r in a.access.domains.get()}
        expect_eq(listed.get("oidc", {}).get("type"), "openid", "the realm in the login list")

        def begin(realm="oidc"):
            r = requests.post(f"{node.url}/api2/json/access/openid/auth-url", data={"realm": realm, "redirect-url": node.url},
                              verify=False, timeout=30)
            expect_eq(r.status_code, 200, f"auth-url: {r.text}")
            return r.json()["data"]

        def finish(back, redirect=None):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)
            r = requests.post(f"{node.url}/api2/json/access/openid/login", verify=False, timeout=30,
                              data={"state": query["state"][0], "code": query["code"][0], "redirect-url": redirect or node.url})
            return r.status_code, (r.json().get("data") if r.ok else r.text), query

        url = begin()
        parts = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        expect(parts.get("code_challenge_method") == ["S256"] and parts.get("nonce") and parts.get("redirect_uri") == [node.url], url)
        status, answer, query = finish(op.login(url, "alice", "alice-secret"))
        expect(status == 200 and answer["username"] == "alice@oidc" and answer["ticket"].startswith("PVE:alice@oidc:"),
               f"login: {status} {answer}")
        # the ticket works; the user and her groups were made from the claims
        me = requests.get(f"{node.url}/api2/json/access/permissions", cookies={"PVEAuthCookie": answer["ticket"]}, verify=False, timeout=30)
        expect_eq(me.status_code, 200, "a call with the OpenID ticket")
        cfg = user_cfg()
        expect("user:alice@oidc:1:0:" in cfg and "alice@corral.test" in cfg, cfg)
        expect_eq(sorted(g["groupid"] for g in a.access.groups.get() if g["groupid"].endswith("-oidc")), ["admins-oidc", "devs-oidc"],
                  "groups from the claim")
        # the same code and state again: refused
        r = requests.post(f"{node.url}/api2/json/access/openid/login", verify=False, timeout=30,
                          data={"state": query["state"][0], "code": query["code"][0], "redirect-url": node.url})
        expect_eq(r.status_code, 401, "a replayed login")
        # groups follow the provider: alice leaves admins there, groups-overwrite takes her out here
        a.access.domains("oidc").put(**{"groups-overwrite": 1})
        op.set_groups("alice", ["devs"])
        status, answer, _ = finish(op.login(begin(), "alice", "alice-secret"))
        expect_eq(status, 200, f"second login {answer}")
        expect_eq(a.access.groups("admins-oidc").get()["members"], [], "admins-oidc after the provider dropped alice")
        # a different redirect than the login began with is refused
        status, _, _ = finish(op.login(begin(), "bob", "bob-secret"), redirect=node.url + "/other")
        expect_eq(status, 401, "a login with another redirect URL")
        # without autocreate, an unknown user gets no ticket and no entry
        a.access.domains("oidc").put(autocreate=0)
        status, _, _ = finish(op.login(begin(), "bob", "bob-secret"))
        expect_eq(status, 401, "bob without autocreate")
        expect("bob@oidc" not in user_cfg(), "bob was created")
        # the claim that names users cannot change under them
        try:
            a.access.domains("oidc").put(**{"username-claim": "email"})
        except ResourceException as e:
            expect(e.status_code == 400 and "username-claim" in str(e.errors), f"{e.status_code} {e.errors}")
        else:
            raise AssertionError("username-claim changed")
        # a realm pointing at no provider: a clear error at auth-url
        a.access.domains.post(realm="oidc-down", type="openid", **{"issuer-url": "http://127.0.0.1:1/x", "client-id": "c"})
        r = requests.post(f"{node.url}/api2/json/access/openid/auth-url", data={"realm": "oidc-down", "redirect-url": node.url},
                          verify=False, timeout=30)
        expect(r.status_code == 500 and "cannot reach" in r.text, f"{r.status_code} {r.text}")
        for realm in ("oidc", "oidc-down"):
            a.access.domains(realm).delete()
        for user in [u["userid"] for u in a.access.users.get() if u["userid"].endswith("@oidc")]:
            a.access.users(user).delete()
        for group in [g["groupid"] for g in a.access.groups.get() if g["groupid"].endswith("-oidc")]:
            a.access.groups(group).delete()
        op.stop()
        return True

    c.check("realms: OpenID Connect realm against Glewlwyd: code flow, autocreate, groups claim, replay and redirect checks", openid)

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
            ("wrong bind password", dict(realm="bad6", type="ldap", server1="127.0.0.1", port=ldap.port, base_dn=ldap.base_dn,
                                         user_attr="uid", bind_dn=ldap.reader_dn, password="wrong", **{"check-connection": 1}),
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

    # --- sync ---------------------------------------------------------------------------------------

    def task(upid, timeout=60):
        """Waits for a task; (exitstatus, log lines)."""
        a = state["api"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = a.nodes(node.name).tasks(upid).status.get()
            if status.get("status") == "stopped":
                lines = [row["t"] for row in a.nodes(node.name).tasks(upid).log.get(limit=100000)]
                return status.get("exitstatus"), lines
            time.sleep(0.2)
        raise AssertionError(f"task {upid} did not end in {timeout} s")

    def sync(realm="corp", **params):
        params = {k.replace("_", "-"): v for k, v in params.items()}
        upid = state["api"].access.domains(realm).sync.post(**params)
        expect(upid.startswith("UPID:") and (":auth-realm-sync-test:" if params.get("dry-run") else ":auth-realm-sync:") in upid, upid)
        return task(upid)

    def dry_run():
        need(made)
        before = user_cfg()
        status, lines = sync(scope="both", dry_run=1)
        expect_eq(status, "OK", f"dry run: {lines}")
        expect_eq(lines[0], "(dry test run) starting sync for realm corp", "first line")
        for line in ("adding user 'bob@corp'", "adding user 'carol@corp'", "adding user 'emile@corp'", "updating user 'alice@corp'",
                     "adding group 'devs-corp'", "adding group 'ops-corp'", "adding group 'admins-corp'",
                     "group name 'Domain Users-corp' contains invalid characters",
                     "NOTE: Dry test run, changes were NOT written to the configuration."):
            expect(line in lines, f"{line!r} not in the log:\n" + "\n".join(lines))
        expect_eq(user_cfg(), before, "user.cfg after a dry run")
        return True

    c.check("realms: sync dry run lists users and groups to add, changes nothing", dry_run)

    def first_sync():
        need(made)
        a = state["api"]
        a.access.domains("corp").put(**{"sync-defaults-options": "enable-new=0,scope=both"})
        status, lines = sync()
        expect_eq(status, "OK", f"sync: {lines}")
        expect("successfully updated users and groups configuration" in lines, "\n".join(lines))
        users = {u["userid"]: u for u in a.access.users.get(full=1)}
        for name in ("alice", "bob", "carol", "emile"):
            expect(f"{name}@corp" in users, f"{name}@corp not synced: {sorted(users)}")
        bob = a.access.users("bob@corp").get()
        expect_eq((bob.get("email"), bob.get("firstname"), bob.get("lastname")), ("bob@corral.test", "Bob", "Builder"), "bob's fields")
        expect_eq(a.access.users("emile@corp").get().get("firstname"), "Émile", "a UTF-8 name")
        # enable-new=0 from the realm's defaults: new users come disabled; alice (there before) stays enabled
        expect_eq(int(bob.get("enable", 1)), 0, "bob's enable (enable-new=0)")
        expect_eq(int(a.access.users("alice@corp").get().get("enable", 0)), 1, "alice's enable")
        groups = {g["groupid"]: g for g in a.access.groups.get()}
        expect_eq(sorted(a.access.groups("devs-corp").get()["members"]), ["alice@corp", "bob@corp"], "devs (dnull has no uid)")
        expect_eq(sorted(a.access.groups("ops-corp").get()["members"]), ["bob@corp", "carol@corp"], "ops (groupOfUniqueNames)")
        expect(not any("Domain" in g for g in groups), f"groups {sorted(groups)}")
        # the directory's own bind: as the realm's reader, searches paged
        expect(any('BIND dn="cn=reader,' in l for l in state["ldap"].ops()), "no bind as the reader")
        a.access.users("bob@corp").put(enable=1)
        login("bob@corp", "bob-secret")
        return True

    synced = c.check("realms: sync brings users (mail, names, UTF-8) and groups in; enable-new from the realm's defaults", first_sync)

    def vanished():
        need(synced)
        a, ldap = state["api"], state["ldap"]
        a.access.acl.put(path="/vms", users="bob@corp,carol@corp", roles="PVEAuditor")
        a.access.acl.put(path="/vms", groups="ops-corp", roles="PVEAuditor")
        a.access.users("alice@corp").put(comment="kept unless properties")
        ldap.delete_user("bob")
        ldap.delete_user("carol")
        ldap.delete_group("ops")
        # nothing removed without remove-vanished
        status, lines = sync(scope="both", remove_vanished="none")
        expect_eq(status, "OK", "\n".join(lines))
        expect("syncing users (remove-vanished opts: none)" in lines, "\n".join(lines))
        cfg = user_cfg()
        expect("user:bob@corp:" in cfg and "group:ops-corp:" in cfg, cfg)
        expect_eq(a.access.users("alice@corp").get().get("comment"), "kept unless properties", "alice's comment")
        # acl only: the entries stay, their ACLs go
        status, lines = sync(scope="users", remove_vanished="acl")
        expect("purge users 'bob@corp' ACL entries" in lines, "\n".join(lines))
        acl = a.access.acl.get()
        expect(not any(e["ugid"] in ("bob@corp", "carol@corp") for e in acl), f"ACL {acl}")
        expect(any(e["ugid"] == "ops-corp" for e in acl), "the group's ACL (scope users)")
        expect("user:bob@corp:" in user_cfg(), "bob's entry (acl only)")
        # entry and properties: bob and carol go, alice loses what the directory does not give
        status, lines = sync(scope="both", remove_vanished="acl;entry;properties")
        for line in ("remove user 'bob@corp'", "remove user 'carol@corp'", "remove group 'ops-corp'", "purge groups 'ops-corp' ACL entries",
                     "overwriting user 'alice@corp'", "overwriting group 'devs-corp'"):
            expect(line in lines, f"{line!r} not in the log:\n" + "\n".join(lines))
        cfg = user_cfg()
        expect("bob@corp" not in cfg and "carol@corp" not in cfg and "ops-corp" not in cfg, cfg)
        alice = a.access.users("alice@corp").get()
        expect_eq((alice.get("comment"), alice.get("email"), int(alice.get("enable", 0))), (None, "alice@corral.test", 1), "alice overwritten")
        expect_eq(a.access.groups("devs-corp").get()["members"], ["alice@corp"], "devs after bob left")
        # other realms' users are never touched
        expect("user:bob@ad:" in cfg and "user:compat@pve:" in cfg, cfg)
        return True

    c.check("realms: users and groups gone from the directory: none, acl, then acl;entry;properties", vanished)

    def failing_syncs():
        need(made)
        a, ldap = state["api"], state["ldap"]
        before = user_cfg()
        ldap.add_user("zed", "zed-secret", cn="Zed", sn="Zed", mail="zed@corral.test")
        a.access.domains("corp").put(password="wrong-password")
        status, lines = sync(scope="both")
        expect("Invalid credentials" in status and "bind" in status, f"status {status!r}")
        expect_eq(user_cfg(), before, "user.cfg after a failed sync")
        a.access.domains("corp").put(password=ldap.reader_password, **{"delete": "sync-defaults-options"})
        for label, realm, params, status, text in [
            ("no scope", "corp", {}, 400, "scope"),
            ("bad remove-vanished", "corp", {"scope": "users", "remove-vanished": "everything"}, 400, "remove-vanished"),
            ("unknown realm", "nowhere", {"scope": "users"}, 400, "realm"),
            ("pam realm", "pam", {"scope": "users"}, 400, "Only LDAP/AD"),
        ]:
            try:
                a.access.domains(realm).sync.post(**params)
            except ResourceException as e:
                expect_eq(e.status_code, status, label)
                expect(text in f"{e.content} {e.errors}", f"{label}: {e.content} {e.errors}")
            else:
                raise AssertionError(f"{label}: accepted")
        expect_eq(user_cfg(), before, "user.cfg after refused syncs")
        return True

    c.check("realms: failing syncs (wrong bind password, no scope, unknown realm, pam) change nothing", failing_syncs)

    def pveum_sync():
        need(made)
        env = dict(os.environ, CORRAL_DATA_DIR=str(node.data), CORRAL_NODENAME=node.name, CORRAL_CONFIG="/dev/null")
        out = subprocess.run([str(node.bindir / "corral"), "pveum", "realm", "sync", "corp", "--scope", "users"],
                             env=env, capture_output=True, text=True, timeout=120)
        expect_eq(out.returncode, 0, f"pveum realm sync: {out.stdout}{out.stderr}")
        expect("adding user 'zed@corp'" in out.stdout + out.stderr, out.stdout + out.stderr)
        expect("user:zed@corp:1:" in user_cfg(), user_cfg())
        return True

    c.check("realms: pveum realm sync runs a sync and prints its log", pveum_sync)

    def sync_jobs():
        need(made)
        a = state["api"]
        a.cluster.jobs("realm-sync")("nightly-corp").post(realm="corp", schedule="02:30", scope="both", comment="nightly",
                                                           **{"remove-vanished": "acl;entry", "enable-new": 0})
        text = (node.mount / "jobs.cfg").read_text()
        expect("realm-sync: nightly-corp\n\tcomment nightly\n\trealm corp\n\tschedule 02:30\n\tscope both\n" in text, text)
        expect("\tenabled 1\n" in text and "\tremove-vanished acl;entry\n" in text and "\tenable-new 0\n" in text, text)
        rows = {r["id"]: r for r in a.cluster.jobs("realm-sync").get()}
        row = rows.get("nightly-corp") or {}
        expect_eq((row.get("realm"), row.get("scope"), row.get("enabled")), ("corp", "both", 1), f"index row {row}")
        expect(row.get("next-run", 0) > time.time(), f"next-run {row}")
        one = a.cluster.jobs("realm-sync")("nightly-corp").get()
        expect_eq((one["schedule"], one["remove-vanished"], one["enable-new"]), ("02:30", "acl;entry", 0), "read back")
        a.cluster.jobs("realm-sync")("nightly-corp").put(schedule="sat 03:00", delete="comment")
        one = a.cluster.jobs("realm-sync")("nightly-corp").get()
        expect(one["schedule"] == "sat 03:00" and "comment" not in one, f"after update {one}")
        before = (node.mount / "jobs.cfg").read_text()
        for label, call, status, text in [
            ("duplicate", lambda: a.cluster.jobs("realm-sync")("nightly-corp").post(realm="corp", schedule="02:30", scope="both"), 500,
             "already exists"),
            ("unknown realm", lambda: a.cluster.jobs("realm-sync")("j2").post(realm="nowhere", schedule="02:30", scope="both"), 400,
             "No such realm"),
            ("pam realm", lambda: a.cluster.jobs("realm-sync")("j3").post(realm="pam", schedule="02:30", scope="both"), 400, "Only LDAP/AD"),
            ("bad schedule", lambda: a.cluster.jobs("realm-sync")("j4").post(realm="corp", schedule="at noon-ish", scope="both"), 400,
             "schedule"),
            ("no scope", lambda: a.cluster.jobs("realm-sync")("j5").post(realm="corp", schedule="02:30"), 400, "scope"),
            ("no schedule on update (PVE requires it)", lambda: a.cluster.jobs("realm-sync")("nightly-corp").put(), 400, "schedule"),
            ("unknown job", lambda: a.cluster.jobs("realm-sync")("j6").delete(), 400, "No such job"),
        ]:
            try:
                call()
            except ResourceException as e:
                expect_eq(e.status_code, status, label)
                expect(text in f"{e.content} {e.errors}", f"{label}: {e.content} {e.errors}")
            else:
                raise AssertionError(f"{label}: accepted")
        expect_eq((node.mount / "jobs.cfg").read_text(), before, "jobs.cfg after refused changes")
        a.cluster.jobs("realm-sync")("nightly-corp").delete()
        expect("nightly-corp" not in (node.mount / "jobs.cfg").read_text(), "job removed")
        return True

    c.check("realms: realm-sync jobs in jobs.cfg: add, list with next run, change, refuse bad ones, remove", sync_jobs)

    def large_directory():
        need(made)
        import ldap_server
        a = state["api"]
        before = user_cfg()
        big = ldap_server.LDAPServer(node.tmp / "ldap-big", seed=False, log_level="none")
        started.append(big)
        big.start()
        big.bulk_add(10000, 1000, members_per_group=50, offline=True)
        a.access.domains.post(realm="big", type="ldap", server1="127.0.0.1", port=big.port, base_dn=big.base_dn, user_attr="uid",
                              bind_dn=big.reader_dn, password=big.reader_password,
                              sync_attributes="email=mail,firstname=givenName,lastname=sn")
        t0 = time.monotonic()
        status, lines = sync(realm="big", scope="both")
        took = time.monotonic() - t0
        expect_eq(status, "OK", "\n".join(lines[-5:]))
        text = user_cfg()
        users = sum(1 for l in text.splitlines() if l.startswith("user:") and "@big:" in l)
        groups = sum(1 for l in text.splitlines() if l.startswith("group:") and l.split(":")[1].endswith("-big"))
        expect_eq((users, groups), (10000, 1000), "users and groups synced")
        # past PVE's 1 MiB wall for files in /etc/pve, read back whole through the mount
        expect(len(text.encode()) > 1024 * 1024, f"user.cfg is {len(text)} bytes")
        expect_eq(a.access.groups("bulk-g0999-big").get()["members"][:2], ["bulk09950@big", "bulk09951@big"], "a group's members")
        login("bulk04242@big", "bulk-secret")
        a.access.domains("big").delete()
        (node.mount / "user.cfg").write_text(before)
        big.stop()
        return f"{took:.1f} s, user.cfg {len(text.encode()) // 1024} KiB"

    c.check("realms: 10,000 users in 1,000 groups of 50 synced; user.cfg past 1 MiB", large_directory)

    def remove():
        need(made)
        a = state["api"]
        for realm in ("ad", "adupn", "corp"):
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
        for user in [u["userid"] for u in a.access.users.get() if u["userid"].endswith(("@corp", "@ad", "@adupn"))]:
            a.access.users(user).delete()
        return True

    c.check("realms: realms removed (their bind passwords with them; pam stays)", remove)

    for daemon in reversed(started):
        try:
            daemon.stop()
        except Exception:  # noqa: BLE001 - cleanup
            pass
