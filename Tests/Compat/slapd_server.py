"""A real OpenLDAP slapd (Debian 12's `slapd`) for the realm tests.

Slapd(tmpdir).start() runs slapd as a child process in its own process group with a slapd.conf of its own
under tmpdir: suffix dc=corral,dc=test (mdb), ldap:// (StartTLS offered) and ldaps:// on free 127.0.0.1
ports, a test CA and a server certificate for 127.0.0.1/localhost (and a second, unrelated CA to make
verification fail), Debian's core/cosine/inetorgperson schemas plus a small auxiliary class carrying AD's
`sAMAccountName` and `userPrincipalName`. ou=people and ou=groups; cn=reader is a bind DN for realms.
add_user / delete_user / add_group change the directory through ldapadd/ldapdelete as the root DN.
`python3 slapd_server.py` runs a self-test with ldapwhoami (plain, StartTLS, LDAPS, the wrong CA).
Needs: slapd ldap-utils openssl. Traffic: 127.0.0.1 only.
"""

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUFFIX = "dc=corral,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "slapd-root-pw"
_live = set()

AD_SCHEMA = """
attributetype ( 1.3.6.1.4.1.55555.1.1 NAME 'sAMAccountName'
    EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.2 NAME 'userPrincipalName'
    EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.55555.2.1 NAME 'corralADUser' SUP top AUXILIARY
    MAY ( sAMAccountName $ userPrincipalName ) )
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, **kw)


class Slapd:
    def __init__(self, tmpdir):
        self.dir = Path(tmpdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = None
        self.port = self.ldaps_port = None
        self.base_dn = SUFFIX
        self.people_dn = f"ou=people,{SUFFIX}"
        self.groups_dn = f"ou=groups,{SUFFIX}"
        self.bind_dn = f"cn=reader,{SUFFIX}"
        self.bind_password = "reader-pw-42"

    @property
    def url(self):
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self):
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    def _certificates(self):
        d = self.dir
        for name in ("ca", "other"):
            _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=corral test {name} CA",
                  "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.pem")]).check_returncode()
        (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(d / "server.key"),
              "-out", str(d / "server.csr")]).check_returncode()
        _run(["openssl", "x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
              "-CAcreateserial", "-days", "2", "-extfile", str(d / "san.cnf"), "-out", str(d / "server.pem")]).check_returncode()
        os.chmod(d / "server.key", 0o644)
        self.ca_file, self.other_ca_file = str(d / "ca.pem"), str(d / "other.pem")

    def start(self, timeout=30):
        self._certificates()
        (self.dir / "ad.schema").write_text(AD_SCHEMA)
        (self.dir / "db").mkdir(exist_ok=True)
        self.port, self.ldaps_port = free_port(), free_port()
        conf = self.dir / "slapd.conf"
        conf.write_text(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n"
            "include /etc/ldap/schema/inetorgperson.schema\ninclude /etc/ldap/schema/nis.schema\n"
            f"include {self.dir / 'ad.schema'}\n"
            f"pidfile {self.dir / 'slapd.pid'}\nargsfile {self.dir / 'slapd.args'}\n"
            "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
            f"TLSCACertificateFile {self.ca_file}\nTLSCertificateFile {self.dir / 'server.pem'}\n"
            f"TLSCertificateKeyFile {self.dir / 'server.key'}\n"
            "database mdb\nmaxsize 1073741824\n"
            f"suffix \"{SUFFIX}\"\nrootdn \"{ROOT_DN}\"\nrootpw {ROOT_PW}\ndirectory {self.dir / 'db'}\n"
            "index objectClass eq\nindex uid,sAMAccountName eq\n"
            "access to attrs=userPassword by self read by anonymous auth by * none\n"
            "access to * by * read\n")
        self.proc = subprocess.Popen(
            ["/usr/sbin/slapd", "-d", "0", "-f", str(conf), "-h", f"ldap://127.0.0.1:{self.port}/ ldaps://127.0.0.1:{self.ldaps_port}/"],
            stdout=open(self.dir / "slapd.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
        _live.add(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("slapd exited:\n" + (self.dir / "slapd.log").read_text()[-2000:])
            if _run(["ldapwhoami", "-x", "-H", self.url, "-D", ROOT_DN, "-w", ROOT_PW]).returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("slapd did not answer:\n" + (self.dir / "slapd.log").read_text()[-2000:])
        self.ldapadd(
            f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: corral\ndc: corral\n\n"
            f"dn: {self.people_dn}\nobjectClass: organizationalUnit\nou: people\n\n"
            f"dn: {self.groups_dn}\nobjectClass: organizationalUnit\nou: groups\n\n"
            f"dn: {self.bind_dn}\nobjectClass: simpleSecurityObject\nobjectClass: organizationalRole\ncn: reader\n"
            f"userPassword: {self.bind_password}\n")
        return self

    def ldapadd(self, ldif):
        r = _run(["ldapadd", "-x", "-H", self.url, "-D", ROOT_DN, "-w", ROOT_PW], input=ldif)
        if r.returncode != 0:
            raise RuntimeError(f"ldapadd: {r.stderr.strip()}")

    def add_user(self, uid, password, sam=None, upn=None, mail=None):
        ldif = (f"dn: uid={uid},{self.people_dn}\nobjectClass: inetOrgPerson\nobjectClass: corralADUser\nuid: {uid}\ncn: {uid}\n"
                f"sn: {uid}\ngivenName: {uid.capitalize()}\nmail: {mail or uid + '@corral.test'}\nuserPassword: {password}\n")
        if sam:
            ldif += f"sAMAccountName: {sam}\n"
        if upn:
            ldif += f"userPrincipalName: {upn}\n"
        self.ldapadd(ldif)
        return f"uid={uid},{self.people_dn}"

    def add_group(self, name, members):
        ldif = f"dn: cn={name},{self.groups_dn}\nobjectClass: groupOfNames\ncn: {name}\n"
        ldif += "".join(f"member: uid={m},{self.people_dn}\n" for m in members) or f"member: {self.bind_dn}\n"
        self.ldapadd(ldif)

    def delete_user(self, uid):
        _run(["ldapdelete", "-x", "-H", self.url, "-D", ROOT_DN, "-w", ROOT_PW, f"uid={uid},{self.people_dn}"]).check_returncode()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
        _live.discard(self)


@atexit.register
def _stop_all():
    for server in list(_live):
        server.stop()


def _selftest():
    with tempfile.TemporaryDirectory(prefix="corral-slapd-") as tmp:
        s = Slapd(tmp).start()
        dn = s.add_user("alice", "alice-pw", sam="alice", upn="alice@corral.test")
        checks = [
            ("plain", ["ldapwhoami", "-x", "-H", s.url, "-D", dn, "-w", "alice-pw"], {}, 0),
            ("starttls", ["ldapwhoami", "-x", "-ZZ", "-H", s.url, "-D", dn, "-w", "alice-pw"], {"LDAPTLS_CACERT": s.ca_file}, 0),
            ("ldaps", ["ldapwhoami", "-x", "-H", s.ldaps_url, "-D", dn, "-w", "alice-pw"], {"LDAPTLS_CACERT": s.ca_file}, 0),
            ("wrong CA", ["ldapwhoami", "-x", "-H", s.ldaps_url, "-D", dn, "-w", "alice-pw"], {"LDAPTLS_CACERT": s.other_ca_file}, "fail"),
            ("wrong password", ["ldapwhoami", "-x", "-H", s.url, "-D", dn, "-w", "nope"], {}, "fail"),
            ("sAMAccountName", ["ldapsearch", "-x", "-LLL", "-H", s.url, "-D", s.bind_dn, "-w", s.bind_password, "-b", s.people_dn,
                                "(sAMAccountName=alice)", "dn"], {}, 0),
        ]
        ok = True
        for name, argv, env, want in checks:
            r = _run(argv, env={**os.environ, **env})
            good = r.returncode == 0 if want == 0 else r.returncode != 0
            if name == "sAMAccountName":
                good = good and dn in r.stdout
            print(("ok  " if good else "FAIL"), name, r.stdout.strip()[:80], r.stderr.strip()[:120])
            ok = ok and good
        s.stop()
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(_selftest())
