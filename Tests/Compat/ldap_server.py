"""A real LDAP directory (Debian 12's OpenLDAP slapd) for the LDAP and Active Directory realm tests.

LDAPServer(tmpdir) starts slapd as a child process in its own process group, on free 127.0.0.1 ports,
with every file (config, schema, certificates, database, log) under the directory it is given, and
waits until it answers. Every wait has a deadline; stop() ends the whole process group (TERM, then
KILL); whatever is still running at exit is stopped. Standard library only; the LDAP work is done
with the ldap-utils command-line tools (ldapadd, ldapmodify, ldapdelete, ldapsearch, ldapwhoami).

  plain ldap://127.0.0.1:port (StartTLS offered)     url, port
  ldaps://127.0.0.1:ldaps_port                       ldaps_url, ldaps_port
  test CA (server cert for IP 127.0.0.1 + localhost)  ca_file, ca_dir (hashed, for a `capath` directory),
                                                      client_cert/client_key (signed by it)
  an unrelated CA, to make verification fail         other_ca_file
  suffix dc=corral,dc=test                           base_dn, people_dn, groups_dn, domain (corral.test)
  admin (rootdn, may write)                          bind_dn, bind_password
  read-only account                                  reader_dn, reader_password

  AD front (ad=True, the default): a small proxy in this process in front of slapd that does what an
  Active Directory domain controller does with a simple bind and slapd cannot: a bind name that is a
  userPrincipalName (`dave.null@corral.test`), `<sAMAccountName>@<domain>` or `<NETBIOS>\\<sAMAccountName>`
  is looked up and replaced by the entry's DN (unknown names fail with invalidCredentials, as AD's
  data 52e). A name with an empty password becomes an anonymous bind and succeeds, as on AD (a client
  must refuse empty passwords itself: PVE's Net::LDAP does). Everything else is passed through. ad_url/ad_port (plain, StartTLS answered by the
  proxy itself) and ad_ldaps_url/ad_ldaps_port. ad_binds lists (bind name, DN it became).
  PVE's AD realm binds with `<user>@<domain>` (Auth/AD.pm), so AD login can only be tested here.

Directory (SEED_USERS / SEED_GROUPS below; passwords in server.passwords[uid]):
  ou=people  alice, bob   inetOrgPerson + AD auxiliary class `user` (sAMAccountName = uid,
                          userPrincipalName = uid@corral.test)
             carol        inetOrgPerson only (no AD attributes)
             emile        inetOrgPerson + `user`, UTF-8 givenName "Émile"
             cn=Dave Null AD-style: no uid, sAMAccountName dnull, userPrincipalName dave.null@corral.test
  ou=groups  admins (groupOfNames: alice), devs (groupOfNames: alice bob dnull),
             ops (groupOfUniqueNames: bob carol), staff (AD `group`: alice dnull),
             "Domain Users" (AD `group`, a name PVE refuses: contains a space)
  rootDSE carries defaultNamingContext (AD clients read the base DN from it).
  Schema: core, cosine, inetorgperson, nis, and corral-ad (sAMAccountName, userPrincipalName,
  userAccountControl with Microsoft's OIDs; `user` AUXILIARY, `group` STRUCTURAL with optional member).
  Searches by anyone but the admin return at most size_limit entries (default 1000, AD's MaxPageSize)
  unless paged (RFC 2696 control, pages of at most size_limit), as AD does; anonymous reads are
  allowed unless anonymous_read=False. A DN with an empty password (an "unauthenticated" bind) is refused
  with 53 unwillingToPerform unless allow_unauthenticated=True.

  import ldap_server
  ldap_server.ensure_installed()
  with ldap_server.LDAPServer(tmp / "ldap") as ldap:
      ldap.add_user("zoe", "zoe-pw", cn="Zoe Z", mail="zoe@corral.test")    # ad=True: sAMAccountName zoe
      ldap.add_group("vmadmins", ["zoe", "alice"])
      realm = dict(type="ldap", realm="test-ldap", server1="127.0.0.1", port=ldap.port, mode="ldap+starttls",
                   verify=1, capath=str(ldap.ca_file), base_dn=ldap.base_dn, user_attr="uid",
                   bind_dn=ldap.reader_dn, password=ldap.reader_password)
      ad = dict(type="ad", realm="test-ad", server1="127.0.0.1", port=ldap.ad_port, domain=ldap.domain, ...)
      ...                                      # POST /access/domains, sync, login as zoe@test-ldap
      assert any("BIND dn=\"uid=zoe," in l for l in ldap.ops())

Methods: add_user, delete_user, modify_user, set_password, add_group, delete_group, set_members,
bulk_add(users=N, groups=M) (one LDIF through one ldapadd, or offline=True: slapadd while stopped),
search, whoami, user_dn, group_dn, ops() (the slapd 'stats' log lines: what a client bound, searched).

`python3 ldap_server.py` runs a self-test and exits non-zero on failure.
Needs: slapd ldap-utils openssl (ensure_installed() installs the first two with apt-get if missing
and leaves the system's own slapd service stopped and disabled).
"""

import atexit
import base64
import hashlib
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"
SUFFIX = "dc=corral,dc=test"
DOMAIN = "corral.test"
NETBIOS = "CORRAL"
MODULE_PATH = "/usr/lib/ldap"
SCHEMA_DIR = "/etc/ldap/schema"
_live = set()

# uid -> attributes. 'rdn' names the naming attribute (uid unless given); 'ad' adds the AD auxiliary class.
SEED_USERS = [
    dict(uid="alice", password="alice-secret", cn="Alice Liddell", sn="Liddell", given_name="Alice",
         mail="alice@corral.test", ad=True),
    dict(uid="bob", password="bob-secret", cn="Bob Builder", sn="Builder", given_name="Bob",
         mail="bob@corral.test", ad=True),
    dict(uid="carol", password="carol-secret", cn="Carol Danvers", sn="Danvers", given_name="Carol",
         mail="carol@corral.test", ad=False),
    dict(uid="emile", password="emile-secret", cn="Émile Zola", sn="Zola", given_name="Émile",
         mail="emile@corral.test", ad=True),
    # AD-style: named by cn, no uid; sAMAccountName and userPrincipalName differ from each other
    dict(uid=None, sam="dnull", upn="dave.null@corral.test", password="dave-secret", cn="Dave Null",
         sn="Null", given_name="Dave", mail="dave.null@corral.test", ad=True, rdn="cn"),
]
# name -> (kind, members as account names: uid, or sAMAccountName for users without uid)
SEED_GROUPS = [
    ("admins", "groupOfNames", ["alice"]),
    ("devs", "groupOfNames", ["alice", "bob", "dnull"]),
    ("ops", "groupOfUniqueNames", ["bob", "carol"]),
    ("staff", "group", ["alice", "dnull"]),
    ("Domain Users", "group", ["alice", "bob", "emile", "dnull"]),
]

# OIDs of our own schema elements (2.25.<uuid>: an arc anyone may use)
_OWN_OID = "2.25.37183282868709102481570808880931990263"
AD_SCHEMA = f"""# AD attributes PVE's AD realm uses, with Microsoft's OIDs; classes made to fit next to inetOrgPerson
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.750 NAME 'groupType'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( {_OWN_OID}.1.1 NAME 'defaultNamingContext'
  EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE )
objectclass ( 1.2.840.113556.1.5.9 NAME 'user' SUP top AUXILIARY
  MAY ( sAMAccountName $ userPrincipalName $ userAccountControl ) )
objectclass ( 1.2.840.113556.1.5.8 NAME 'group' SUP top STRUCTURAL
  MUST cn MAY ( member $ sAMAccountName $ groupType $ description $ mail ) )
"""


# --------------------------------------------------------------------------------------------- helpers

def ensure_installed(timeout=900):
    """Install slapd and ldap-utils with apt-get if missing; the system's slapd is left stopped and disabled."""
    if shutil.which("slapd", path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", "")) and shutil.which("ldapwhoami"):
        return
    from harness import apt_install, keep_service_off
    apt_install(["slapd", "ldap-utils"], timeout)
    # the package may have started its own slapd (where no policy-rc.d forbids it)
    keep_service_off("slapd")


def free_port():
    """A TCP port that is currently free on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _can_connect(port):
    with socket.create_connection((LOOPBACK, port), timeout=0.5):
        return True


def ssha(password, salt=None):
    """An RFC 2307 {SSHA} userPassword value (what slapd stores by default)."""
    salt = salt if salt is not None else os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def escape_filter(value):
    """An assertion value escaped for an LDAP filter (RFC 4515)."""
    return "".join(f"\\{ord(c):02x}" if c in "\\*()\0" else c for c in value)


def escape_dn_value(value):
    """An attribute value escaped for a DN (RFC 4514)."""
    out = re.sub(r'([,+"\\<>;=])', r"\\\1", value)
    if out[:1] in (" ", "#"):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


def _ldif_value(attr, value):
    """One `attr: value` line, base64 (`attr:: `) when LDIF requires it (RFC 2849)."""
    if isinstance(value, bytes):
        return f"{attr}:: {base64.b64encode(value).decode()}"
    if value == "" or value[0] in " :<" or value[-1] == " " or any(ord(c) < 32 or ord(c) > 126 for c in value):
        return f"{attr}:: {base64.b64encode(value.encode()).decode()}"
    return f"{attr}: {value}"


def ldif_entry(dn, attrs):
    """LDIF text of one entry; attrs maps names to a value or a list of values (str or bytes)."""
    lines = [_ldif_value("dn", dn)]
    for k, vals in attrs.items():
        for v in vals if isinstance(vals, (list, tuple)) else [vals]:
            if v is not None:
                lines.append(_ldif_value(k, v))
    return "\n".join(lines) + "\n\n"


def parse_ldif(text):
    """[(dn, {attr: [values]})] of ldapsearch -LLL output (unwrapped or wrapped, base64 decoded)."""
    entries, dn, attrs = [], None, {}
    logical = []
    for line in text.splitlines():
        if line.startswith(" ") and logical:
            logical[-1] += line[1:]
        else:
            logical.append(line)
    for line in logical + [""]:
        if not line:
            if dn is not None:
                entries.append((dn, attrs))
            dn, attrs = None, {}
            continue
        if line.startswith("#"):
            continue
        key, _, rest = line.partition(":")
        if rest.startswith(":"):
            raw = base64.b64decode(rest[1:].strip())
            try:
                value = raw.decode()
            except UnicodeDecodeError:
                value = raw
        else:
            value = rest[1:] if rest.startswith(" ") else rest
        if key.lower() == "dn":
            dn = value
        else:
            attrs.setdefault(key, []).append(value)
    return entries


class LDAPError(RuntimeError):
    """A failed ldap-utils call: `rc` is the tool's exit status (the LDAP result code for most errors)."""

    def __init__(self, what, rc, output):
        super().__init__(f"{what}: exit {rc}: {output.strip()[-600:]}")
        self.rc, self.output = rc, output


# --------------------------------------------------------------------------------------------- certificates

def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60, cwd=cwd)


def make_ca(directory, name):
    """(cert, key) of a fresh self-signed CA."""
    d = Path(directory)
    cert, key = d / f"{name}.crt", d / f"{name}.key"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(cert), "-days", "30", "-subj", f"/O=Corral tests/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=d)
    return cert, key


def make_cert(directory, name, ca, subject, san=None, usage="serverAuth"):
    """(cert, key) signed by ca=(cert, key)."""
    d = Path(directory)
    cert, key, csr, ext = d / f"{name}.crt", d / f"{name}.key", d / f"{name}.csr", d / f"{name}.ext"
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(csr), "-subj", subject, cwd=d)
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                   f"extendedKeyUsage={usage}\n" + (f"subjectAltName={san}\n" if san else ""))
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
             "-out", str(cert), "-days", "30", "-extfile", str(ext), cwd=d)
    csr.unlink()
    ext.unlink()
    return cert, key


# --------------------------------------------------------------------------------------------- the server

class LDAPServer:
    """slapd serving dc=corral,dc=test on 127.0.0.1 (see the module doc)."""
    name = "slapd"

    def __init__(self, tmpdir, seed=True, ad=True, anonymous_read=True, size_limit=1000, log_level="stats",
                 bind_password="admin-secret", reader_password="reader-secret", allow_unauthenticated=False):
        self.dir = Path(tmpdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.seed, self.ad, self.anonymous_read = seed, ad, anonymous_read
        self.size_limit, self.log_level = size_limit, log_level
        self.allow_unauthenticated = allow_unauthenticated
        self.base_dn, self.domain, self.netbios = SUFFIX, DOMAIN, NETBIOS
        self.people_dn, self.groups_dn = f"ou=people,{SUFFIX}", f"ou=groups,{SUFFIX}"
        self.bind_dn, self.bind_password = f"cn=admin,{SUFFIX}", bind_password
        self.reader_dn, self.reader_password = f"cn=reader,{SUFFIX}", reader_password
        self.passwords = {}          # account name (uid, or sAMAccountName when no uid) -> password
        self._dns = {}               # account name -> DN, for entries this object made
        self.port = self.ldaps_port = None
        self.proc = None
        self.log_path = self.dir / "slapd.log"
        self.startup_seconds = None
        self.front = None
        self.ad_binds = []
        self._log = None
        self._initialized = False

    # ----------------------------------------------------------------------------- addresses

    @property
    def url(self):
        return f"ldap://{LOOPBACK}:{self.port}"

    @property
    def ldaps_url(self):
        return f"ldaps://{LOOPBACK}:{self.ldaps_port}"

    @property
    def ad_port(self):
        return self.front.port if self.front else None

    @property
    def ad_ldaps_port(self):
        return self.front.ldaps_port if self.front else None

    @property
    def ad_url(self):
        return f"ldap://{LOOPBACK}:{self.ad_port}"

    @property
    def ad_ldaps_url(self):
        return f"ldaps://{LOOPBACK}:{self.ad_ldaps_port}"

    def user_dn(self, name):
        """DN of the account `name` (uid, or sAMAccountName), made here or found by search."""
        if name in self._dns:
            return self._dns[name]
        f = f"(|(uid={escape_filter(name)})(sAMAccountName={escape_filter(name)}))"
        found = self.search(self.base_dn, f"(&(objectClass=person){f})", ["1.1"])
        if not found:
            raise KeyError(f"no such user {name!r}")
        return found[0][0]

    def group_dn(self, name):
        return f"cn={escape_dn_value(name)},{self.groups_dn}"

    # ----------------------------------------------------------------------------- setup

    def _write_tls(self):
        tls = self.dir / "tls"
        tls.mkdir(exist_ok=True)
        if not (tls / "ca.crt").exists():
            ca = make_ca(tls, "ca")
            make_cert(tls, "server", ca, "/O=Corral tests/CN=localhost", "IP:127.0.0.1,DNS:localhost")
            make_cert(tls, "client", ca, "/O=Corral tests/CN=corral-client", usage="clientAuth")
            make_ca(tls, "other-ca")
            cadir = tls / "capath"
            cadir.mkdir(exist_ok=True)
            shutil.copy(tls / "ca.crt", cadir / "ca.crt")
            subprocess.run(["openssl", "rehash", str(cadir)], check=True, capture_output=True, timeout=30)
            (tls / "server.key").chmod(0o600)
        self.ca_file, self.ca_key = tls / "ca.crt", tls / "ca.key"
        self.other_ca_file = tls / "other-ca.crt"
        self.ca_dir = tls / "capath"
        self.server_cert, self.server_key = tls / "server.crt", tls / "server.key"
        self.client_cert, self.client_key = tls / "client.crt", tls / "client.key"

    def _write_config(self):
        (self.dir / "corral-ad.schema").write_text(AD_SCHEMA)
        (self.dir / "rootdse.ldif").write_text(f"dn:\ndefaultNamingContext: {self.base_dn}\n\n")
        db = self.dir / "db"
        db.mkdir(exist_ok=True)
        schemas = "".join(f"include {SCHEMA_DIR}/{s}.schema\n" for s in ("core", "cosine", "inetorgperson", "nis"))
        if self.size_limit:
            n = int(self.size_limit)
            limit = f"sizelimit size.soft={n} size.hard={n} size.pr={n} size.prtotal=unlimited"
        else:
            limit = "sizelimit unlimited"
        anon = "by anonymous read" if self.anonymous_read else "by anonymous none"
        (self.dir / "slapd.conf").write_text(f"""# generated by ldap_server.py
{schemas}include {self.dir}/corral-ad.schema
modulepath {MODULE_PATH}
moduleload back_mdb
pidfile {self.dir}/slapd.pid
argsfile {self.dir}/slapd.args
rootDSE {self.dir}/rootdse.ldif
{limit}
timelimit 60
password-hash {{SSHA}}
{"allow bind_anon_cred" if self.allow_unauthenticated else ""}
TLSCACertificateFile {self.ca_file}
TLSCertificateFile {self.server_cert}
TLSCertificateKeyFile {self.server_key}
TLSVerifyClient allow

database mdb
suffix "{self.base_dn}"
rootdn "{self.bind_dn}"
rootpw {ssha(self.bind_password)}
directory {db}
maxsize 2147483648
dbnosync
envflags writemap
index objectClass eq
index uid,cn,sn,mail,sAMAccountName,userPrincipalName eq,sub
index member,uniqueMember eq
access to attrs=userPassword
  by self write
  by dn.exact="{self.bind_dn}" write
  by anonymous auth
  by * none
access to *
  by dn.exact="{self.bind_dn}" write
  by users read
  {anon}
""")

    def _seed_ldif(self):
        """LDIF of the base entries (and the seed directory when seed=True)."""
        out = [ldif_entry(self.base_dn, {"objectClass": ["top", "dcObject", "organization"],
                                         "dc": "corral", "o": "Corral tests"}),
               ldif_entry(self.people_dn, {"objectClass": ["top", "organizationalUnit"], "ou": "people"}),
               ldif_entry(self.groups_dn, {"objectClass": ["top", "organizationalUnit"], "ou": "groups"})]
        for dn, pw, desc in ((self.bind_dn, self.bind_password, "directory administrator"),
                             (self.reader_dn, self.reader_password, "read-only bind account")):
            out.append(ldif_entry(dn, {"objectClass": ["top", "organizationalRole", "simpleSecurityObject"],
                                       "cn": dn.split(",")[0][3:], "description": desc,
                                       "userPassword": ssha(pw)}))
        if self.seed:
            for u in SEED_USERS:
                args = dict(u)
                dn, attrs = self._user_entry(args.pop("uid"), args.pop("password"), **args)
                name = u["uid"] or u["sam"]
                self._dns[name], self.passwords[name] = dn, u["password"]
                out.append(ldif_entry(dn, attrs))
            for name, kind, members in SEED_GROUPS:
                dn, attrs = self._group_entry(name, members, kind)
                out.append(ldif_entry(dn, attrs))
        return "".join(out)

    def _slapadd(self, ldif_path, timeout=300):
        r = subprocess.run(["slapadd", "-q", "-f", str(self.dir / "slapd.conf"), "-b", self.base_dn,
                            "-l", str(ldif_path)], capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise LDAPError("slapadd", r.returncode, r.stdout + r.stderr)

    def start(self, timeout=30):
        """Start slapd (and the AD front); the first start creates certificates, config and directory."""
        exe = shutil.which("slapd", path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", ""))
        if not exe or not shutil.which("ldapwhoami"):
            raise RuntimeError("slapd/ldap-utils are not installed (ensure_installed() installs them)")
        if not self._initialized:
            self._write_tls()
            self._write_config()
            seed = self.dir / "seed.ldif"
            seed.write_text(self._seed_ldif())
            self._slapadd(seed)
            self._initialized = True
        if self.port is None:
            self.port, self.ldaps_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LDAP", "PYTHON"))}
        self._log = open(self.log_path, "ab")
        t0 = time.monotonic()
        # -d keeps slapd in the foreground and logs to stderr; no -u: it runs as the caller
        self.proc = subprocess.Popen(
            [exe, "-d", self.log_level or "0", "-f", str(self.dir / "slapd.conf"),
             "-h", f"ldap://{LOOPBACK}:{self.port}/ ldaps://{LOOPBACK}:{self.ldaps_port}/"],
            cwd=self.dir, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True)
        _live.add(self)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.stop()
                raise RuntimeError(f"slapd exited ({rc}) before it listened:\n{self.log_tail()}")
            try:
                if _can_connect(self.port) and _can_connect(self.ldaps_port):
                    break
            except OSError:
                pass
            if time.monotonic() >= deadline:
                self.stop()
                raise RuntimeError(f"slapd: not listening within {timeout}s:\n{self.log_tail()}")
            time.sleep(0.05)
        if self.ad and self.front is None:
            self.front = ADFront(self)
            self.front.start()
        self.startup_seconds = round(time.monotonic() - t0, 2)
        return self

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def ops(self):
        """slapd's 'stats' log lines (conn=… op=… BIND dn=…, SRCH base=… filter=…, RESULT … err=…)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return [l for l in text.splitlines() if " conn=" in l and " op=" in l or " conn=" in l and "ACCEPT" in l]

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace=5, front=True):
        proc, self.proc = self.proc, None
        if front and self.front is not None:
            self.front.stop()
            self.front = None
        if proc is not None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
                try:
                    os.killpg(proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self.front is None:
            _live.discard(self)
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ----------------------------------------------------------------------------- ldap-utils

    def tool_env(self, ca=None, extra=None):
        """Environment for an ldap-utils call: no system ldap.conf/ldaprc; LDAPTLS_CACERT = ca (default our CA)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LDAP")}
        conf = self.dir / "ldap.conf"
        if not conf.exists():
            conf.write_text("")
        env.update(LDAPCONF=str(conf), LDAPRC="corral-none-ldaprc", LDAPTLS_CACERT=str(ca or self.ca_file))
        env.update(extra or {})
        return env

    def _run(self, argv, input_text=None, ca=None, timeout=120, check=True, what=None):
        r = subprocess.run(argv, input=input_text, capture_output=True, text=True, timeout=timeout,
                           env=self.tool_env(ca))
        if check and r.returncode != 0:
            raise LDAPError(what or argv[0], r.returncode, r.stdout + r.stderr)
        return r

    def _admin(self, tool, ldif, timeout=300, extra=()):
        return self._run([tool, "-x", "-H", self.url, "-D", self.bind_dn, "-w", self.bind_password, *extra],
                         input_text=ldif, timeout=timeout)

    def ldapadd(self, ldif, timeout=300):
        """Add every entry of an LDIF text as the admin (one ldapadd)."""
        return self._admin("ldapadd", ldif, timeout)

    def ldapmodify(self, ldif, timeout=120):
        return self._admin("ldapmodify", ldif, timeout)

    def search(self, base=None, filter="(objectClass=*)", attrs=None, scope="sub", bind_dn=None, password=None,
               url=None, timeout=120, page_size=None):
        """[(dn, {attr: [values]})]; as the admin unless bind_dn is given (bind_dn='' for anonymous).
        Paged (page_size, default size_limit) so that non-admin binds see every entry. A missing base is []."""
        argv = ["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-x", "-H", url or self.url,
                "-b", self.base_dn if base is None else base, "-s", scope]
        if bind_dn is None:
            argv += ["-D", self.bind_dn, "-w", self.bind_password]
        elif bind_dn:
            argv += ["-D", bind_dn, "-w", password or ""]
        ps = page_size or self.size_limit
        if ps:
            argv += ["-E", f"pr={int(ps)}/noprompt"]
        argv += [filter, *(attrs or [])]
        r = self._run(argv, timeout=timeout, check=False)
        if r.returncode == 32:
            return []
        if r.returncode != 0:
            raise LDAPError("ldapsearch", r.returncode, r.stdout + r.stderr)
        return parse_ldif(r.stdout)

    def whoami(self, name, password, tls="none", ca=None, url=None, timeout=20):
        """(exit code, output) of ldapwhoami simple-binding as `name` (a DN, or for the AD front a UPN).
        tls: 'none' (ldap://), 'starttls' (-ZZ), 'ldaps'; ca: the CA file for verification (default ours)."""
        if url is None:
            url = self.ldaps_url if tls == "ldaps" else self.url
        argv = ["ldapwhoami", "-x", "-H", url, "-D", name, "-w", password]
        if tls == "starttls":
            argv.append("-ZZ")
        r = self._run(argv, ca=ca, timeout=timeout, check=False)
        return r.returncode, (r.stdout + r.stderr).strip()

    # ----------------------------------------------------------------------------- directory edits

    def _user_entry(self, uid, password, cn=None, sn=None, given_name=None, mail=None, ad=True, sam=None,
                    upn=None, rdn="uid", ou=None, uac=512, extra=None, salt=None):
        name = uid or sam
        if not name:
            raise ValueError("a user needs a uid or a sAMAccountName")
        cn = cn or name
        sn = sn or cn.split()[-1]
        attrs = {"objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson"] + (["user"] if ad else []),
                 "uid": uid, "cn": cn, "sn": sn, "givenName": given_name, "mail": mail,
                 "userPassword": ssha(password, salt) if password is not None else None}
        if ad:
            attrs.update(sAMAccountName=sam or uid, userPrincipalName=upn or f"{sam or uid}@{self.domain}",
                         userAccountControl=str(uac))
        attrs.update(extra or {})
        value = {"uid": uid, "cn": cn}.get(rdn) or attrs.get(rdn)
        if isinstance(value, list):
            value = value[0]
        parent = f"ou={escape_dn_value(ou)},{self.base_dn}" if ou else self.people_dn
        return f"{rdn}={escape_dn_value(value)},{parent}", attrs

    def _group_entry(self, name, members, kind="groupOfNames", extra=None):
        dns = [m if "=" in m else self.user_dn(m) for m in members]
        if kind == "groupOfNames":
            if not dns:
                raise ValueError("a groupOfNames needs a member (use kind='group' for an empty group)")
            attrs = {"objectClass": ["top", "groupOfNames"], "cn": name, "member": dns}
        elif kind == "groupOfUniqueNames":
            if not dns:
                raise ValueError("a groupOfUniqueNames needs a uniqueMember")
            attrs = {"objectClass": ["top", "groupOfUniqueNames"], "cn": name, "uniqueMember": dns}
        elif kind == "group":
            attrs = {"objectClass": ["top", "group"], "cn": name, "member": dns, "sAMAccountName": name,
                     "groupType": "-2147483646"}
        else:
            raise ValueError(f"unknown group kind {kind!r}")
        attrs.update(extra or {})
        return self.group_dn(name), attrs

    def _ensure_ou(self, ou):
        if ou and not self.search(self.base_dn, f"(ou={escape_filter(ou)})", ["1.1"], scope="one"):
            self.ldapadd(ldif_entry(f"ou={escape_dn_value(ou)},{self.base_dn}",
                                    {"objectClass": ["top", "organizationalUnit"], "ou": ou}))

    def add_user(self, uid, password, cn=None, sn=None, given_name=None, mail=None, ad=True, sam=None, upn=None,
                 rdn="uid", ou=None, extra=None):
        """Add a user; returns its DN. ad=True adds the `user` class with sAMAccountName (sam, default uid) and
        userPrincipalName (upn, default <sam>@corral.test). uid=None with sam= makes an AD-only account;
        rdn='cn' names the entry by cn (as AD does); ou= puts it in another OU (made if missing)."""
        self._ensure_ou(ou)
        dn, attrs = self._user_entry(uid, password, cn, sn, given_name, mail, ad, sam, upn, rdn, ou, extra=extra)
        self.ldapadd(ldif_entry(dn, attrs))
        name = uid or sam
        self._dns[name], self.passwords[name] = dn, password
        return dn

    def delete_user(self, name):
        """Delete the account (uid or sAMAccountName); group memberships stay as dangling DNs, as in LDAP."""
        dn = self.user_dn(name)
        self._run(["ldapdelete", "-x", "-H", self.url, "-D", self.bind_dn, "-w", self.bind_password, dn])
        self._dns.pop(name, None)
        self.passwords.pop(name, None)

    def modify_user(self, name, replace=None, add=None, delete=None):
        """Change attributes: replace/add {attr: value or [values]}, delete [attr] or {attr: [values]}."""
        self.modify(self.user_dn(name), replace, add, delete)

    def modify(self, dn, replace=None, add=None, delete=None):
        parts = []
        for op, changes in (("replace", replace), ("add", add)):
            for attr, vals in (changes or {}).items():
                vals = vals if isinstance(vals, (list, tuple)) else [vals]
                parts.append(f"{op}: {attr}\n" + "".join(_ldif_value(attr, v) + "\n" for v in vals) + "-\n")
        items = delete.items() if isinstance(delete, dict) else ((a, []) for a in (delete or []))
        for attr, vals in items:
            parts.append(f"delete: {attr}\n" + "".join(_ldif_value(attr, v) + "\n" for v in vals) + "-\n")
        if parts:
            self.ldapmodify(_ldif_value("dn", dn) + "\nchangetype: modify\n" + "".join(parts) + "\n")

    def set_password(self, name, password):
        self.modify_user(name, replace={"userPassword": ssha(password)})
        self.passwords[name] = password

    def add_group(self, name, members=(), kind="groupOfNames", extra=None):
        """Add a group in ou=groups; members are account names or DNs. kind: groupOfNames (member),
        groupOfUniqueNames (uniqueMember) or group (AD: member optional, sAMAccountName = name)."""
        dn, attrs = self._group_entry(name, list(members), kind, extra)
        self.ldapadd(ldif_entry(dn, attrs))
        return dn

    def set_members(self, name, members):
        """Replace the member (or uniqueMember) list of a group."""
        dn = self.group_dn(name)
        entry = self.search(dn, "(objectClass=*)", ["objectClass"], scope="base")
        if not entry:
            raise KeyError(f"no such group {name!r}")
        classes = {c.lower() for c in entry[0][1].get("objectClass", [])}
        attr = "uniqueMember" if "groupofuniquenames" in classes else "member"
        dns = [m if "=" in m else self.user_dn(m) for m in members]
        if dns:
            self.modify(dn, replace={attr: dns})
        else:
            self.modify(dn, delete=[attr])

    def delete_group(self, name):
        self._run(["ldapdelete", "-x", "-H", self.url, "-D", self.bind_dn, "-w", self.bind_password,
                   self.group_dn(name)])

    def bulk_ldif(self, users, groups, prefix="bulk", password="bulk-secret", members_per_group=10, ad=True):
        """(LDIF text, [uid]) of `users` users <prefix>00000… and `groups` groups <prefix>-g0000…; group j holds
        members_per_group consecutive users starting at (j*members_per_group) mod users."""
        salt = b"corral00"  # one hash for all: hashing 10,000 times is the slow part otherwise
        pw = ssha(password, salt)
        out, uids = [], []
        for i in range(users):
            uid = f"{prefix}{i:05d}"
            attrs = {"objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson"] + (["user"] if ad else []),
                     "uid": uid, "cn": f"Bulk User {i}", "sn": f"User{i}", "givenName": "Bulk",
                     "mail": f"{uid}@{self.domain}", "userPassword": pw}
            if ad:
                attrs.update(sAMAccountName=uid, userPrincipalName=f"{uid}@{self.domain}", userAccountControl="512")
            out.append(ldif_entry(f"uid={uid},{self.people_dn}", attrs))
            uids.append(uid)
        for j in range(groups):
            members = [f"uid={uids[(j * members_per_group + k) % users]},{self.people_dn}"
                       for k in range(min(members_per_group, users))] if users else [self.bind_dn]
            out.append(ldif_entry(f"cn={prefix}-g{j:04d},{self.groups_dn}",
                                  {"objectClass": ["top", "groupOfNames"], "cn": f"{prefix}-g{j:04d}",
                                   "member": members}))
        return "".join(out), uids

    def bulk_add(self, users=10000, groups=1000, prefix="bulk", password="bulk-secret", members_per_group=10,
                 ad=True, offline=False, timeout=300):
        """Load many users and groups at once; returns the seconds it took. offline=True stops slapd,
        slapadds the LDIF and starts it again on the same ports (faster; connections are cut)."""
        t0 = time.monotonic()
        ldif, uids = self.bulk_ldif(users, groups, prefix, password, members_per_group, ad)
        if offline:
            path = self.dir / f"{prefix}.ldif"
            path.write_text(ldif)
            self.stop(front=False)
            self._slapadd(path, timeout)
            self.start()
        else:
            self.ldapadd(ldif, timeout)
        for uid in uids:
            self._dns[uid] = f"uid={uid},{self.people_dn}"
            self.passwords[uid] = password
        return round(time.monotonic() - t0, 2)


# --------------------------------------------------------------------------------------------- AD front

def _ber_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _tlv(tag, content):
    return bytes([tag]) + _ber_len(len(content)) + content


def _split_tlv(buf, pos=0):
    """(tag, content start, end) of the TLV at pos, or None when buf does not hold all of it yet."""
    if len(buf) < pos + 2:
        return None
    tag, first = buf[pos], buf[pos + 1]
    start = pos + 2
    if first & 0x80:
        n = first & 0x7F
        if len(buf) < start + n:
            return None
        length = int.from_bytes(buf[start:start + n], "big")
        start += n
    else:
        length = first
    if len(buf) < start + length:
        return None
    return tag, start, start + length


STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"


class ADFront:
    """A loopback proxy in front of slapd that resolves AD-style simple-bind names (see the module doc)."""

    def __init__(self, server):
        self.server = server
        self.port = self.ldaps_port = None
        self._socks = []
        self._stop = threading.Event()
        self._ctx = None

    def start(self):
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(self.server.server_cert, self.server.server_key)
        for tls in (False, True):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((LOOPBACK, 0))
            s.listen(64)
            s.settimeout(0.2)
            self._socks.append(s)
            if tls:
                self.ldaps_port = s.getsockname()[1]
            else:
                self.port = s.getsockname()[1]
            threading.Thread(target=self._accept, args=(s, tls), daemon=True).start()

    def stop(self):
        self._stop.set()
        for s in self._socks:
            try:
                s.close()
            except OSError:
                pass
        self._socks = []

    def _accept(self, lsock, tls):
        while not self._stop.is_set():
            try:
                conn, _ = lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, tls), daemon=True).start()

    def resolve(self, name):
        """The DN an AD DC would bind for `name`, None for a name that is a DN already or anonymous."""
        if not name or "=" in name:
            return None
        srv = self.server
        if "\\" in name:
            dom, _, user = name.partition("\\")
            flt = f"(sAMAccountName={escape_filter(user)})" if dom.upper() == srv.netbios else None
        elif "@" in name:
            user, _, dom = name.rpartition("@")
            flt = f"(userPrincipalName={escape_filter(name)})"
            if dom.lower() == srv.domain:
                flt = f"(|{flt}(sAMAccountName={escape_filter(user)}))"
        else:
            flt = None
        found = srv.search(srv.base_dn, f"(&(objectClass=user){flt})", ["1.1"]) if flt else []
        # an unknown account fails like a wrong password (AD: 49, data 52e)
        return found[0][0] if len(found) == 1 else f"cn=no such account,{srv.base_dn}"

    def _rewrite_bind(self, msg, op_start, op_end, rest_start):
        """msg with a simple BindRequest's name replaced when it is an AD-style name."""
        body = msg[op_start:op_end]
        v = _split_tlv(body, 0)
        n = _split_tlv(body, v[2]) if v else None
        if not n or n[0] != 0x04:
            return msg
        auth = _split_tlv(body, n[2])
        if not auth or auth[0] != 0x80:  # only simple binds
            return msg
        name = body[n[1]:n[2]].decode(errors="replace")
        if name and auth[1] == auth[2]:
            dn = ""  # a name with an empty password: AD grants an anonymous (unauthenticated) bind
        else:
            dn = self.resolve(name)
            if dn is None:
                return msg
        self.server.ad_binds.append((name, dn))
        new_op = _tlv(0x60, body[:v[2]] + _tlv(0x04, dn.encode()) + body[n[2]:])
        outer = _split_tlv(msg, 0)
        msgid_end = _split_tlv(msg, outer[1])[2]
        return _tlv(0x30, msg[outer[1]:msgid_end] + new_op + msg[rest_start:outer[2]])

    def _serve(self, client, tls):
        upstream = None
        try:
            client.settimeout(10)
            if tls:
                client = self._ctx.wrap_socket(client, server_side=True)
            client.settimeout(None)
            upstream = socket.create_connection((LOOPBACK, self.server.port), timeout=10)
            upstream.settimeout(None)
            buf = b""
            while not self._stop.is_set():
                pending = isinstance(client, ssl.SSLSocket) and client.pending() > 0
                ready = [client] if pending else select.select([client, upstream], [], [], 0.5)[0]
                if upstream in ready:
                    data = upstream.recv(65536)
                    if not data:
                        return
                    client.sendall(data)
                if client not in ready:
                    continue
                data = client.recv(65536)
                if not data:
                    return
                buf += data
                while True:
                    outer = _split_tlv(buf, 0)
                    if outer is None:
                        break
                    msg, buf = buf[:outer[2]], buf[outer[2]:]
                    mid = _split_tlv(msg, outer[1])
                    op = _split_tlv(msg, mid[2]) if mid else None
                    if op and op[0] == 0x60:
                        msg = self._rewrite_bind(msg, op[1], op[2], op[2])
                    elif op and op[0] == 0x77:
                        req = _split_tlv(msg, op[1])
                        if req and req[0] == 0x80 and msg[req[1]:req[2]] == STARTTLS_OID:
                            if isinstance(client, ssl.SSLSocket):
                                code, text = 1, b"TLS already started"   # operationsError
                            else:
                                code, text = 0, b""
                            resp = _tlv(0x78, b"\x0a\x01" + bytes([code]) + _tlv(0x04, b"") + _tlv(0x04, text)
                                        + _tlv(0x8A, STARTTLS_OID))
                            client.sendall(_tlv(0x30, msg[outer[1]:mid[2]] + resp))
                            if code == 0:
                                client.settimeout(10)
                                client = self._ctx.wrap_socket(client, server_side=True)
                                client.settimeout(None)
                            continue
                    upstream.sendall(msg)
        except (OSError, ssl.SSLError, ValueError):
            return
        finally:
            for s in (client, upstream):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass


@atexit.register
def _stop_all():
    for d in list(_live):
        d.stop(grace=2)


# --------------------------------------------------------------------------------------------- self-test

def _selftest():
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        if not cond:
            failures.append(what)

    root = Path(tempfile.mkdtemp(prefix="ldap-server-"))
    try:
        t0 = time.monotonic()
        ensure_installed()
        with LDAPServer(root / "ldap") as s:
            print(f"slapd up in {s.startup_seconds}s ({time.monotonic() - t0:.2f}s with certificates and seed; "
                  f"ldap {s.port}, ldaps {s.ldaps_port}, AD front {s.ad_port}/{s.ad_ldaps_port})")
            alice = s.user_dn("alice")
            want = f"dn:{alice}"
            rc, out = s.whoami(alice, "alice-secret")
            check(rc == 0 and out == want, f"ldap:// simple bind as alice ({rc} {out})")
            rc, out = s.whoami(alice, "wrong")
            check(rc == 49, f"wrong password -> 49 invalidCredentials ({rc} {out[-60:]})")
            rc, out = s.whoami(alice, "alice-secret", tls="starttls")
            check(rc == 0 and out == want, f"StartTLS (-ZZ) verified against ca_file ({rc} {out})")
            rc, out = s.whoami(alice, "alice-secret", tls="ldaps")
            check(rc == 0 and out == want, f"ldaps:// verified against ca_file ({rc} {out})")
            rc, out = s.whoami(alice, "alice-secret", tls="ldaps", ca=s.other_ca_file)
            check(rc != 0 and "Can't contact" in out, f"ldaps:// with other_ca_file fails ({rc} {out[-80:]})")
            rc, out = s.whoami(alice, "alice-secret", tls="starttls", ca=s.other_ca_file)
            check(rc != 0, f"StartTLS with other_ca_file fails ({rc} {out[-80:]})")
            rc, out = s.whoami(alice, "")
            check(rc == 53, f"DN with empty password: 53 unwillingToPerform ({rc})")
            rc, out = s.whoami(s.reader_dn, s.reader_password)
            check(rc == 0, f"reader binds ({rc} {out})")
            rc, out = s.whoami(s.bind_dn, s.bind_password, tls="ldaps")
            check(rc == 0, f"admin binds over ldaps ({rc} {out})")

            # search then bind, as PVE's LDAP realm does; AD accounts by sAMAccountName
            res = s.search(s.base_dn, "(sAMAccountName=dnull)", ["userPrincipalName", "cn"],
                           bind_dn=s.reader_dn, password=s.reader_password)
            check(len(res) == 1 and res[0][0] == f"cn=Dave Null,{s.people_dn}"
                  and res[0][1]["userPrincipalName"] == ["dave.null@corral.test"], f"search by sAMAccountName {res}")
            res = s.search(s.base_dn, "(uid=emile)", ["givenName"], bind_dn="")
            check(res and res[0][1]["givenName"] == ["Émile"], f"anonymous search, UTF-8 value {res}")
            res = s.search(s.base_dn, "(&(objectClass=user)(sAMAccountName=carol))", ["1.1"])
            check(res == [], "carol has no AD attributes")
            rc, out = s.whoami(f"cn=Dave Null,{s.people_dn}", "dave-secret")
            check(rc == 0, f"bind as the AD-style DN ({rc} {out})")
            res = s.search(s.groups_dn, "(|(objectClass=groupOfNames)(objectClass=group))", ["member"],
                           bind_dn=s.reader_dn, password=s.reader_password)
            groups = {dn.split(",")[0][3:]: sorted(a.get("member", [])) for dn, a in res}
            check(groups.get("devs") == sorted([alice, s.user_dn("bob"), s.user_dn("dnull")])
                  and groups.get("staff") == sorted([alice, s.user_dn("dnull")]) and "Domain Users" in groups,
                  f"group members {groups}")
            res = s.search(s.groups_dn, "(objectClass=groupOfUniqueNames)", ["uniqueMember"])
            check(len(res) == 1 and len(res[0][1]["uniqueMember"]) == 2, "groupOfUniqueNames ops")
            res = s.search("", "(objectClass=*)", ["defaultNamingContext"], scope="base", bind_dn="")
            check(res and res[0][1].get("defaultNamingContext") == [s.base_dn], f"rootDSE defaultNamingContext {res}")

            # edits
            dn = s.add_user("zed", "zed-1", cn="Zed Zulu", mail="zed@corral.test")
            check(s.whoami(dn, "zed-1")[0] == 0, "add_user: new user binds")
            s.set_password("zed", "zed-2")
            check(s.whoami(dn, "zed-1")[0] == 49 and s.whoami(dn, "zed-2")[0] == 0, "set_password")
            s.add_group("zgroup", ["zed", "alice"])
            s.set_members("zgroup", ["zed"])
            res = s.search(s.group_dn("zgroup"), scope="base")
            check(res and res[0][1]["member"] == [dn], "add_group / set_members")
            s.modify_user("zed", replace={"mail": "zed2@corral.test"})
            check(s.search(dn, scope="base")[0][1]["mail"] == ["zed2@corral.test"], "modify_user")
            s.delete_group("zgroup")
            s.delete_user("zed")
            check(s.search(s.base_dn, "(|(uid=zed)(cn=zgroup))") == [], "delete_user / delete_group")

            # the AD front: UPN, sAMAccountName@domain and DOMAIN\\name binds, plain, StartTLS, ldaps
            dave = f"dn:cn=Dave Null,{s.people_dn}"
            for name, tls in (("dave.null@corral.test", "none"), ("dnull@corral.test", "starttls"),
                              ("CORRAL\\dnull", "ldaps")):
                url = s.ad_ldaps_url if tls == "ldaps" else s.ad_url
                rc, out = s.whoami(name, "dave-secret", tls=tls, url=url)
                check(rc == 0 and out == dave, f"AD front bind {name!r} over {tls} ({rc} {out})")
            rc, out = s.whoami("alice@corral.test", "nope", url=s.ad_url)
            check(rc == 49, f"AD front: wrong password 49 ({rc})")
            rc, out = s.whoami("alice@corral.test", "", url=s.ad_url)
            check(rc == 0 and out == "anonymous", f"AD front: empty password = anonymous success, as AD ({rc} {out})")
            rc, out = s.whoami("nobody@corral.test", "x", url=s.ad_url)
            check(rc == 49, f"AD front: unknown account 49 ({rc})")
            rc, out = s.whoami("alice@corral.test", "alice-secret", tls="ldaps", url=s.ad_ldaps_url,
                               ca=s.other_ca_file)
            check(rc != 0, f"AD front ldaps with other_ca_file fails ({rc})")
            res = s.search(s.base_dn, "(uid=alice)", ["mail"], bind_dn="alice@corral.test",
                           password="alice-secret", url=s.ad_url)
            check(res and res[0][1]["mail"] == ["alice@corral.test"], "AD front: search after UPN bind")
            check(("dave.null@corral.test", f"cn=Dave Null,{s.people_dn}") in s.ad_binds, "ad_binds recorded")

            # size limit (AD-like): unpaged reader searches are cut, paged ones are complete
            t = time.monotonic()
            secs = s.bulk_add(users=10000, groups=1000)
            print(f"bulk_add: 10,000 users + 1,000 groups by ldapadd in {secs}s")
            check(secs < 60, f"bulk load under a minute ({secs}s)")
            t = time.monotonic()
            users = s.search(s.people_dn, "(objectClass=inetOrgPerson)", ["uid"], bind_dn=s.reader_dn,
                             password=s.reader_password, page_size=900)
            print(f"paged search of every user as reader: {len(users)} in {time.monotonic() - t:.2f}s")
            check(len(users) == 10000 + len(SEED_USERS), f"paged search sees every user ({len(users)})")
            r = s._run(["ldapsearch", "-LLL", "-x", "-H", s.url, "-D", s.reader_dn, "-w", s.reader_password,
                        "-b", s.people_dn, "(objectClass=inetOrgPerson)", "1.1"], check=False)
            check(r.returncode == 4, f"unpaged search past size_limit: 4 sizeLimitExceeded ({r.returncode})")
            g = s.search(s.group_dn("bulk-g0999"), scope="base")
            check(g and len(g[0][1]["member"]) == 10, "bulk group has 10 members")
            check(s.whoami(s.user_dn("bulk09999"), "bulk-secret")[0] == 0, "bulk user binds")
            check(any("BIND dn=" in l for l in s.ops()) and any("SRCH base=" in l for l in s.ops()),
                  "ops(): stats log lines")

        # offline bulk load into a fresh unseeded directory, and a restart keeps the data and ports
        with LDAPServer(root / "ldap2", seed=False, ad=False, log_level="0") as s2:
            port = s2.port
            secs = s2.bulk_add(users=10000, groups=1000, offline=True)
            print(f"bulk_add: 10,000 users + 1,000 groups by slapadd (offline) in {secs}s")
            check(s2.port == port and s2.whoami(s2.user_dn("bulk00042"), "bulk-secret")[0] == 0,
                  "offline bulk load: same port, user binds")
            check(len(s2.search(s2.groups_dn, "(objectClass=groupOfNames)", ["1.1"])) == 1000, "1,000 groups")
            pid = s2.proc.pid
        check(not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower(),
              "stop() ended slapd")
    except Exception as e:
        failures.append(repr(e))
        print(f"FAIL {e!r}", flush=True)
    finally:
        _stop_all()
        if not failures:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"logs kept in {root}")
    print("self-test:", "OK" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(_selftest())
