"""A real OpenID Connect provider (Debian 12's Glewlwyd, its `oidc` plugin) for the OpenID realm tests.

OIDCProvider(tmpdir) starts `glewlwyd` as a child process in its own process group, on a free
127.0.0.1 port, with every file (config, SQLite database, signing key, certificates, log) under the
directory it is given, and configures it the way an administrator would: the database is made from
the package's own schema, the OpenID Connect plugin instance, the scopes and the user backend's extra
properties are written before the start; users and the client are added through Glewlwyd's admin API
afterwards (so passwords are hashed by Glewlwyd itself). Every wait has a deadline; stop() ends the
process group (TERM, then KILL); whatever is still running at exit is stopped. Standard library only
(urllib, sqlite3, json) plus the openssl command for keys and certificates.

  transport        plain HTTP by default (issuer http://127.0.0.1:<port>/api/oidc);
                   tls=True: HTTPS with a fresh test CA (ca_file; server cert for IP 127.0.0.1 and
                   localhost), issuer https://127.0.0.1:<port>/api/oidc
  issuer           <base>/api/oidc; discovery at <issuer>/.well-known/openid-configuration
                   (authorization_endpoint <issuer>/auth, token_endpoint <issuer>/token,
                   userinfo_endpoint <issuer>/userinfo, jwks_uri <issuer>/jwks)
  signing          RS256 (a fresh 2048-bit RSA key per instance)
  client           confidential: client_id / client_secret (defaults "corral" / "corral-secret"),
                   redirect_uris (default ["https://127.0.0.1:8006"]; a redirect URI must match exactly),
                   token endpoint auth client_secret_basic or client_secret_post; grant types code + refresh
  scopes           openid, email, profile (PVE asks for "openid email profile" by default); each user
                   is given all three; a password login satisfies every one
  claims           sub (Glewlwyd's own opaque public subject, NOT the user name), name, email,
                   preferred_username (= the Glewlwyd user name), login (a separate per-user value,
                   for a custom username-claim), groups (JSON array of the user's group names; left
                   out for a user without groups). All in the id_token and in /userinfo, whatever the
                   scopes. auth_time is 0 (Glewlwyd's way); amr ["password"]. PKCE (S256) accepted.
  users            SEED_USERS below (passwords in provider.passwords); add_user() adds more

  import oidc_provider
  oidc_provider.ensure_installed()
  with oidc_provider.OIDCProvider(tmp / "oidc", redirect_uris=[node.url]) as op:
      realm = dict(type="openid", realm="test-oidc", **{"issuer-url": op.issuer, "client-id": op.client_id,
                   "client-key": op.client_secret, "username-claim": "preferred_username",
                   "groups-claim": "groups", "autocreate": 1})
      ...                                                   # POST /access/domains
      auth_url = api.post("/access/openid/auth-url", realm="test-oidc", **{"redirect-url": node.url})
      back = op.login(auth_url, "alice", "alice-secret")    # node.url + "?state=...&code=..."
      q = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)
      api.post("/access/openid/login", state=q["state"][0], code=q["code"][0], **{"redirect-url": node.url})

login(auth_url, username, password, grant=True) drives the provider as its login page does (the
login page is a single-page web app that speaks JSON to Glewlwyd's /api/auth endpoints): it opens the
authorization URL (Glewlwyd answers with a redirect to its login page), logs in with the password
(POST /api/auth/), gives the consent the page would ask for (PUT /api/auth/grant/<client_id>/ with
the requested scopes), then opens the authorization URL again with `g_continue` (what the page does
on "Continue") and returns the Location of Glewlwyd's final redirect: the client's redirect URI with
code and state (or error and error_description). Each login() starts a fresh session (its own cookie
jar). A wrong password raises LoginFailed. grant=False skips the consent: Glewlwyd then redirects
back to its login page, and LoginFailed is raised too.
The real login page is served as well (<base>/login.html), for a browser.

Methods: add_user(username, password, email=, name=, groups=, login=), set_groups(username, groups),
set_password(username, password), delete_user(username), set_redirect_uris([...]),
discovery(), token(code, redirect_uri, auth="basic"|"post") (the token endpoint, as a client),
userinfo(access_token), jwks(), decode_jwt(token) -> (header, claims) (no signature check),
log_tail().

`python3 oidc_provider.py` runs a self-test (HTTP and HTTPS) and exits non-zero on failure.
Needs: glewlwyd and dbconfig-sqlite3 (ensure_installed() installs them with apt-get if missing,
answering the package's debconf question so that no system database or service is set up, and
leaves the system's own glewlwyd service stopped and disabled), openssl.
"""

import atexit
import base64
import hashlib
import http.cookiejar
import json
import os
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from harness import apt_install, keep_service_off, stop_process
from pathlib import Path

LOOPBACK = "127.0.0.1"
BINARY = "/usr/bin/glewlwyd"
SCHEMA = "/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3"
WEBAPP = "/usr/share/glewlwyd/webapp"
MODULES = "/usr/lib/glewlwyd"
PLUGIN = "oidc"                       # the plugin instance's name: the issuer path is /api/<PLUGIN>
ADMIN_USER, ADMIN_PASSWORD = "admin", "password"   # the package's seeded administrator
SCOPES = ["openid", "email", "profile"]
_live = set()

# name, password, e-mail, display name, groups, login (the custom username claim)
SEED_USERS = [
    dict(username="alice", password="alice-secret", email="alice@corral.test", name="Alice Liddell",
         groups=["admins", "devs"], login="alice.liddell"),
    dict(username="bob", password="bob-secret", email="bob@corral.test", name="Bob Builder",
         groups=["devs"], login="bob.builder"),
    dict(username="carol", password="carol-secret", email="carol@corral.test", name="Carol Danvers",
         groups=[], login="carol.danvers"),
]

# libconfig syntax; {placeholders} filled by _write_config
CONFIG = """port={port}
bind_address="{host}"
external_url="{base}"
login_url="login.html"
api_prefix="api"
static_files_path="{webapp}/"
allow_origin="*"
log_mode="file"
log_level="{log_level}"
log_file="{log}"
cookie_secure={cookie_secure}
cookie_same_site="empty"
session_expiration=3600
session_key="GLEWLWYD2_SESSION_ID"
admin_session_authentication="cookie"
profile_session_authentication="cookie"
allow_multiple_user_per_session=true
login_api_enabled=true
add_x_frame_option_header_deny=true
max_post_size=16778240
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="{modules}/user"
user_middleware_module_path="{modules}/user_middleware"
client_module_path="{modules}/client"
user_auth_scheme_module_path="{modules}/scheme"
plugin_module_path="{modules}/plugin"
use_secure_connection={tls}
secure_connection_key_file="{key}"
secure_connection_pem_file="{pem}"
hash_algorithm="SHA512"
database =
{{
  type = "sqlite3"
  path = "{db}"
}};
static_files_mime_types =
(
  {{ extension = ".html"  mime_type = "text/html" }},
  {{ extension = ".css"   mime_type = "text/css" }},
  {{ extension = ".js"    mime_type = "application/javascript" }},
  {{ extension = ".json"  mime_type = "application/json" }},
  {{ extension = ".png"   mime_type = "image/png" }},
  {{ extension = ".ico"   mime_type = "image/x-icon" }},
  {{ extension = ".woff"  mime_type = "font/woff" }},
  {{ extension = ".woff2" mime_type = "font/woff2" }},
  {{ extension = ".ttf"   mime_type = "font/ttf" }}
);
"""


# --------------------------------------------------------------------------------------------- helpers

def ensure_installed(timeout=900):
    """Install glewlwyd (with the SQLite flavour of dbconfig) if missing; the system service stays off."""
    installed = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "glewlwyd"], capture_output=True, text=True)
    if "ok installed" in installed.stdout and os.access(BINARY, os.X_OK) and Path(SCHEMA).is_file():
        return
    # "No configuration": the package then makes no database of its own and writes no db config
    subprocess.run(["debconf-set-selections"], input="glewlwyd glewlwyd/config_type select No configuration\n",
                   text=True, check=True, timeout=60)
    apt_install(["glewlwyd", "dbconfig-sqlite3"], timeout)
    keep_service_off("glewlwyd")


def free_port():
    """A TCP port that is currently free on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def decode_jwt(token):
    """(header, claims) of a compact JWS, without checking the signature."""
    head, body, _sig = token.split(".")
    return json.loads(_b64url_decode(head)), json.loads(_b64url_decode(body))


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


def make_cert(directory, name, ca, subject, san):
    """(cert, key) of a server certificate signed by ca=(cert, key)."""
    d = Path(directory)
    cert, key, csr, ext = d / f"{name}.crt", d / f"{name}.key", d / f"{name}.csr", d / f"{name}.ext"
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(csr), "-subj", subject, cwd=d)
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                   f"extendedKeyUsage=serverAuth\nsubjectAltName={san}\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
             "-out", str(cert), "-days", "30", "-extfile", str(ext), cwd=d)
    csr.unlink()
    ext.unlink()
    return cert, key


class LoginFailed(RuntimeError):
    """login() could not get through the provider's login: wrong password, no consent, unknown user."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class _Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body or b"null")

    @property
    def location(self):
        return self.headers.get("Location")


# --------------------------------------------------------------------------------------------- the provider

class OIDCProvider:
    """Glewlwyd's OpenID Connect provider on 127.0.0.1 (see the module doc)."""
    name = "glewlwyd"

    def __init__(self, tmpdir, redirect_uris=("https://127.0.0.1:8006",), client_id="corral",
                 client_secret="corral-secret", tls=False, seed=True, log_level="INFO",
                 access_token_duration=3600, code_duration=600):
        self.dir = Path(tmpdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tls, self.seed, self.log_level = tls, seed, log_level
        self.client_id, self.client_secret = client_id, client_secret
        self.redirect_uris = list(redirect_uris)
        self.access_token_duration, self.code_duration = access_token_duration, code_duration
        self.passwords = {}
        self.groups = {}
        self.port = None
        self.proc = None
        self.startup_seconds = None
        self.ca_file = None
        self.db_file = self.dir / "glewlwyd.db"
        self.config_file = self.dir / "glewlwyd.conf"
        self.log_file = self.dir / "glewlwyd.log"
        self._ssl_ctx = None
        self._admin = None

    # ------------------------------------------------------------------ properties
    @property
    def base_url(self):
        return f"{'https' if self.tls else 'http'}://{LOOPBACK}:{self.port}"

    @property
    def issuer(self):
        return f"{self.base_url}/api/{PLUGIN}"

    @property
    def discovery_url(self):
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def authorization_endpoint(self):
        return f"{self.issuer}/auth"

    @property
    def token_endpoint(self):
        return f"{self.issuer}/token"

    @property
    def userinfo_endpoint(self):
        return f"{self.issuer}/userinfo"

    @property
    def login_page(self):
        return f"{self.base_url}/login.html"

    @property
    def ssl_context(self):
        """An ssl.SSLContext that trusts the test CA (None over plain HTTP)."""
        return self._ssl_ctx

    # ------------------------------------------------------------------ set-up
    def _make_keys(self):
        _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sign.key", cwd=self.dir)
        _openssl("pkey", "-in", "sign.key", "-pubout", "-out", "sign.pub", cwd=self.dir)
        if self.tls:
            ca = make_ca(self.dir, "oidc-test-ca")
            self.ca_file = ca[0]
            self.server_cert, self.server_key = make_cert(self.dir, "oidc-server", ca, "/O=Corral tests/CN=127.0.0.1",
                                                          "IP:127.0.0.1,DNS:localhost")
            self._ssl_ctx = ssl.create_default_context(cafile=str(self.ca_file))

    def _plugin_parameters(self):
        return {
            "iss": self.issuer,
            "subject-type": "public",
            "jwt-type": "rsa",
            "jwt-key-size": "256",
            "key": (self.dir / "sign.key").read_text(),
            "cert": (self.dir / "sign.pub").read_text(),
            "access-token-duration": self.access_token_duration,
            "refresh-token-duration": 86400,
            "code-duration": self.code_duration,
            "refresh-token-rolling": True,
            "allow-non-oidc": False,
            "auth-type-code-enabled": True,
            "auth-type-token-enabled": False,
            "auth-type-id-token-enabled": True,
            "auth-type-none-enabled": False,
            "auth-type-password-enabled": False,
            "auth-type-client-enabled": False,
            "auth-type-device-enabled": False,
            "auth-type-refresh-enabled": True,
            "scope": [],
            "additional-parameters": [],
            "name-claim": "mandatory",
            "email-claim": "mandatory",
            "scope-claim": "no",
            "address-claim": {"type": "no"},
            "claims": [
                {"name": "preferred_username", "user-property": "username", "type": "string", "mandatory": True},
                {"name": "login", "user-property": "login", "type": "string", "mandatory": True},
                {"name": "groups", "user-property": "groups", "type": "string", "mandatory": True},
            ],
            "pkce-allowed": True,
            "pkce-method-plain-allowed": False,
            "introspection-revocation-allowed": False,
            "register-client-allowed": False,
            "session-management-allowed": False,
            "jwks-show": True,
        }

    def _make_database(self):
        if self.db_file.exists():
            self.db_file.unlink()
        con = sqlite3.connect(self.db_file)
        try:
            con.executescript(Path(SCHEMA).read_text())
            # the user backend keeps the extra properties the claims are made from
            row = con.execute("SELECT gumi_parameters FROM g_user_module_instance WHERE gumi_name='database'").fetchone()
            params = json.loads(row[0])
            fmt = params.setdefault("data-format", {})
            fmt["groups"] = {"multiple": True, "read": True, "write": True, "profile-read": True, "profile-write": False}
            fmt["login"] = {"multiple": False, "read": True, "write": True, "profile-read": True, "profile-write": False}
            con.execute("UPDATE g_user_module_instance SET gumi_parameters=? WHERE gumi_name='database'",
                        (json.dumps(params),))
            # a password login is enough for every scope a relying party asks for
            con.execute("UPDATE g_scope SET gs_password_required=1, gs_password_max_age=0 WHERE gs_name='openid'")
            for scope, text in (("email", "E-mail address"), ("profile", "Profile")):
                con.execute("INSERT INTO g_scope (gs_name, gs_display_name, gs_description, gs_password_required, "
                            "gs_password_max_age) VALUES (?, ?, ?, 1, 0)", (scope, text, text))
            con.execute("INSERT INTO g_plugin_module_instance (gpmi_module, gpmi_name, gpmi_display_name, "
                        "gpmi_parameters, gpmi_enabled) VALUES ('oidc', ?, 'OpenID Connect', ?, 1)",
                        (PLUGIN, json.dumps(self._plugin_parameters())))
            con.commit()
        finally:
            con.close()

    def _make_webapp(self):
        """A copy of the package's login web app with a config.json of its own (the package's config.json
        link points at a folder, and Glewlwyd serves no file whose real path is outside its static folder)."""
        web = self.dir / "webapp"
        if not web.exists():
            shutil.copytree(WEBAPP, web, symlinks=False, ignore=shutil.ignore_patterns("config.json"))
            for src in (Path("/etc/glewlwyd/config-2.7.json/config.json"), Path("/usr/share/glewlwyd/templates/config.json")):
                if src.is_file():
                    shutil.copy(src, web / "config.json")
                    break
        return web

    def _write_config(self):
        web = self._make_webapp()
        self.config_file.write_text(CONFIG.format(
            port=self.port, host=LOOPBACK, base=self.base_url, webapp=web, log_level=self.log_level,
            log=self.log_file, cookie_secure=1 if self.tls else 0, modules=MODULES,
            tls="true" if self.tls else "false",
            key=getattr(self, "server_key", ""), pem=getattr(self, "server_cert", ""), db=self.db_file))

    # ------------------------------------------------------------------ process
    def start(self, timeout=20):
        if not os.access(BINARY, os.X_OK):
            raise RuntimeError(f"{BINARY} missing: call oidc_provider.ensure_installed()")
        t0 = time.monotonic()
        if self.port is None:
            self._make_keys()
            self._make_database()
            self.port = free_port()
            # the issuer holds the port: write the plugin parameters again now that it is known
            con = sqlite3.connect(self.db_file)
            con.execute("UPDATE g_plugin_module_instance SET gpmi_parameters=? WHERE gpmi_name=?",
                        (json.dumps(self._plugin_parameters()), PLUGIN))
            con.commit()
            con.close()
        self._write_config()
        log = open(self.dir / "stderr.log", "ab")
        self.proc = subprocess.Popen([BINARY, f"--config-file={self.config_file}"], cwd=self.dir,
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        _live.add(self)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"glewlwyd exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                r = self._request("GET", self.discovery_url, timeout=2)
                if r.status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"glewlwyd did not answer within {timeout}s:\n{self.log_tail()}")
            time.sleep(0.05)
        self._admin = None
        if self.seed and not self.passwords:
            self._add_client()
            for u in SEED_USERS:
                self.add_user(**u)
        self.startup_seconds = round(time.monotonic() - t0, 2)
        return self

    def stop(self, grace=5):
        proc, self.proc = self.proc, None
        _live.discard(self)
        if proc is not None:
            stop_process(proc, grace)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def log_tail(self, chars=3000):
        out = ""
        for f in (self.log_file, self.dir / "stderr.log"):
            try:
                out += f.read_text(errors="replace")[-chars:]
            except OSError:
                pass
        return out

    # ------------------------------------------------------------------ HTTP
    def _request(self, method, url, body=None, json_body=None, headers=None, opener=None, timeout=10):
        """One request without following redirects; HTTP errors are answers too."""
        data = None
        hdrs = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        elif body is not None:
            data = urllib.parse.urlencode(body).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        if opener is None:
            opener = self._opener()
        try:
            with opener.open(req, timeout=timeout) as r:
                return _Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return _Response(e.code, e.headers, e.read())

    def _opener(self, jar=None):
        handlers = [_NoRedirect()]
        if self._ssl_ctx is not None:
            handlers.append(urllib.request.HTTPSHandler(context=self._ssl_ctx))
        if jar is not None:
            handlers.append(urllib.request.HTTPCookieProcessor(jar))
        return urllib.request.build_opener(*handlers)

    def _session(self, username, password):
        """An opener whose cookie jar holds a Glewlwyd session logged in with the password."""
        jar = http.cookiejar.CookieJar()
        opener = self._opener(jar)
        r = self._request("POST", f"{self.base_url}/api/auth/", json_body={"username": username, "password": password},
                          opener=opener)
        if r.status != 200:
            raise LoginFailed(f"login of {username!r} refused: HTTP {r.status} {r.body[:200]!r}")
        return opener

    def _admin_call(self, method, path, json_body=None, expect=(200,)):
        if self._admin is None:
            self._admin = self._session(ADMIN_USER, ADMIN_PASSWORD)
        r = self._request(method, f"{self.base_url}/api{path}", json_body=json_body, opener=self._admin)
        if r.status not in expect:
            raise RuntimeError(f"glewlwyd admin {method} {path}: HTTP {r.status} {r.body[:500]!r}")
        return r

    # ------------------------------------------------------------------ administration
    def _client_json(self):
        return {"client_id": self.client_id, "name": "Corral", "description": "Corral's console",
                "enabled": True, "confidential": True, "client_secret": self.client_secret,
                "redirect_uri": self.redirect_uris, "authorization_type": ["code", "refresh_token"],
                "token_endpoint_auth_method": ["client_secret_basic", "client_secret_post"], "scope": []}

    def _add_client(self):
        self._admin_call("POST", "/client/", self._client_json())

    def set_redirect_uris(self, uris):
        self.redirect_uris = list(uris)
        self._admin_call("PUT", f"/client/{urllib.parse.quote(self.client_id)}", self._client_json())

    def add_user(self, username, password, email=None, name=None, groups=(), login=None):
        body = {"username": username, "password": password, "name": name or username,
                "email": email or f"{username}@corral.test", "enabled": True, "scope": SCOPES,
                "groups": list(groups), "login": login or username}
        self._admin_call("POST", "/user/", body)
        self.passwords[username] = password
        self.groups[username] = list(groups)

    def set_groups(self, username, groups):
        self._admin_call("PUT", f"/user/{urllib.parse.quote(username)}", {"groups": list(groups)})
        self.groups[username] = list(groups)

    def set_password(self, username, password):
        self._admin_call("PUT", f"/user/{urllib.parse.quote(username)}", {"password": password})
        self.passwords[username] = password

    def delete_user(self, username):
        self._admin_call("DELETE", f"/user/{urllib.parse.quote(username)}")
        self.passwords.pop(username, None)
        self.groups.pop(username, None)

    # ------------------------------------------------------------------ as a user / as a client
    def login(self, auth_url, username, password, grant=True):
        """Through the login and consent steps; returns the redirect URL (with code and state)."""
        opener = self._opener(http.cookiejar.CookieJar())
        r = self._request("GET", auth_url, opener=opener)
        if r.status not in (301, 302, 303) or not r.location:
            raise LoginFailed(f"authorization endpoint answered HTTP {r.status} {r.body[:300]!r}")
        first = urllib.parse.urljoin(auth_url, r.location)
        if not first.startswith(self.login_page):
            return first                      # an error redirect to the client, or a session already valid
        # the login page: a password login, then the consent it shows for the requested scopes
        r = self._request("POST", f"{self.base_url}/api/auth/", json_body={"username": username, "password": password},
                          opener=opener)
        if r.status != 200:
            raise LoginFailed(f"wrong user name or password for {username!r} (HTTP {r.status})")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(auth_url).query)
        client_id = query.get("client_id", [""])[0]
        scopes = query.get("scope", [""])[0]
        if grant:
            r = self._request("PUT", f"{self.base_url}/api/auth/grant/{urllib.parse.quote(client_id)}/",
                              json_body={"scope": scopes}, opener=opener)
            if r.status != 200:
                raise LoginFailed(f"consent for {client_id!r} ({scopes!r}) refused: HTTP {r.status} {r.body[:200]!r}")
        sep = "&" if urllib.parse.urlsplit(auth_url).query else "?"
        r = self._request("GET", auth_url + sep + "g_continue", opener=opener)
        if r.status not in (301, 302, 303) or not r.location:
            raise LoginFailed(f"authorization endpoint after login answered HTTP {r.status} {r.body[:300]!r}")
        final = urllib.parse.urljoin(auth_url, r.location)
        if final.startswith(self.login_page):
            raise LoginFailed(f"still at the login page after logging in {username!r}: {final}")
        return final

    def discovery(self):
        r = self._request("GET", self.discovery_url)
        if r.status != 200:
            raise RuntimeError(f"discovery: HTTP {r.status}")
        return r.json()

    def jwks(self):
        return self._request("GET", self.discovery()["jwks_uri"]).json()

    def token(self, code, redirect_uri, auth="basic", client_secret=None, code_verifier=None):
        """POST the code to the token endpoint as the client; (HTTP status, JSON answer)."""
        secret = self.client_secret if client_secret is None else client_secret
        body = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier:
            body["code_verifier"] = code_verifier
        headers = {}
        if auth == "basic":
            cred = f"{urllib.parse.quote(self.client_id)}:{urllib.parse.quote(secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
        else:
            body.update(client_id=self.client_id, client_secret=secret)
        r = self._request("POST", self.token_endpoint, body=body, headers=headers)
        try:
            return r.status, r.json()
        except ValueError:
            return r.status, {"raw": r.body.decode(errors="replace")}

    def userinfo(self, access_token):
        r = self._request("GET", self.userinfo_endpoint, headers={"Authorization": f"Bearer {access_token}"})
        return r.status, r.json()

    decode_jwt = staticmethod(decode_jwt)


@atexit.register
def _stop_all():
    for p in list(_live):
        p.stop(grace=2)


# --------------------------------------------------------------------------------------------- self-test

def _rsa_verify(token, jwks):
    """Check an RS256 signature against the JWKS with openssl (the public key rebuilt as DER)."""
    head, body, sig = token.split(".")
    header = json.loads(_b64url_decode(head))
    key = next(k for k in jwks["keys"] if k.get("kid") == header.get("kid") or len(jwks["keys"]) == 1)

    def der_int(b):
        b = b.lstrip(b"\0")
        if b[0] & 0x80:
            b = b"\0" + b
        return b"\x02" + der_len(len(b)) + b

    def der_len(n):
        if n < 128:
            return bytes([n])
        s = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return bytes([0x80 | len(s)]) + s

    n, e = _b64url_decode(key["n"]), _b64url_decode(key["e"])
    rsa = der_int(n) + der_int(e)
    rsa = b"\x30" + der_len(len(rsa)) + rsa
    alg = bytes.fromhex("300d06092a864886f70d0101010500")
    bits = b"\x03" + der_len(len(rsa) + 1) + b"\0" + rsa
    spki = alg + bits
    spki = b"\x30" + der_len(len(spki)) + spki
    with tempfile.TemporaryDirectory() as d:
        Path(d, "k.der").write_bytes(spki)
        Path(d, "sig").write_bytes(_b64url_decode(sig))
        Path(d, "data").write_bytes(f"{head}.{body}".encode())
        r = subprocess.run(["openssl", "dgst", "-sha256", "-keyform", "DER", "-verify", "k.der", "-signature", "sig",
                            "data"], cwd=d, capture_output=True, text=True)
        return r.returncode == 0


def _selftest():
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        if not cond:
            failures.append(what)

    root = Path(tempfile.mkdtemp(prefix="oidc-provider-"))
    redirect = "https://127.0.0.1:8006"
    try:
        t0 = time.monotonic()
        ensure_installed()
        print(f"ensure_installed: {time.monotonic() - t0:.2f}s")
        for tls in (False, True):
            t0 = time.monotonic()
            with OIDCProvider(root / ("https" if tls else "http"), redirect_uris=[redirect], tls=tls) as op:
                print(f"--- glewlwyd over {'HTTPS (test CA)' if tls else 'plain HTTP'}: up and seeded in "
                      f"{op.startup_seconds}s; issuer {op.issuer}")
                disc = op.discovery()
                check(disc.get("issuer") == op.issuer, f"discovery issuer {disc.get('issuer')}")
                check(disc.get("authorization_endpoint") == op.authorization_endpoint
                      and disc.get("token_endpoint") == op.token_endpoint,
                      f"endpoints {disc.get('authorization_endpoint')} {disc.get('token_endpoint')}")
                check("code" in disc.get("response_types_supported", []) and
                      "RS256" in disc.get("id_token_signing_alg_values_supported", []),
                      f"code flow, RS256 ({disc.get('response_types_supported')}, "
                      f"{disc.get('id_token_signing_alg_values_supported')})")
                check("client_secret_basic" in disc.get("token_endpoint_auth_methods_supported", []),
                      f"token auth methods {disc.get('token_endpoint_auth_methods_supported')}")
                jwks = op.jwks()
                check(any(k.get("kty") == "RSA" for k in jwks.get("keys", [])), "jwks has the RSA key")

                def auth_url(state, nonce, scope="openid email profile", redirect_uri=redirect):
                    return disc["authorization_endpoint"] + "?" + urllib.parse.urlencode(dict(
                        response_type="code", client_id=op.client_id, redirect_uri=redirect_uri, scope=scope,
                        state=state, nonce=nonce))

                state, nonce = "st-" + os.urandom(6).hex(), "no-" + os.urandom(6).hex()
                t = time.monotonic()
                back = op.login(auth_url(state, nonce), "alice", "alice-secret")
                print(f"login() took {time.monotonic() - t:.2f}s -> {back[:90]}...")
                parts = urllib.parse.urlsplit(back)
                q = urllib.parse.parse_qs(parts.query)
                check(back.startswith(redirect + "/?") or back.startswith(redirect + "?"),
                      f"redirected to the redirect URI ({parts.scheme}://{parts.netloc}{parts.path})")
                check(q.get("state") == [state] and "code" in q, f"code and state in the redirect ({sorted(q)})")
                status, tok = op.token(q["code"][0], redirect)
                check(status == 200 and tok.get("token_type", "").lower() == "bearer" and "id_token" in tok,
                      f"token endpoint (client_secret_basic): {status} {sorted(tok)}")
                head, claims = decode_jwt(tok["id_token"])
                check(head.get("alg") == "RS256", f"id_token alg {head.get('alg')}")
                check(_rsa_verify(tok["id_token"], jwks), "id_token signature verifies against jwks")
                check(claims.get("iss") == op.issuer and claims.get("aud") in (op.client_id, [op.client_id]),
                      f"iss/aud {claims.get('iss')} {claims.get('aud')}")
                check(claims.get("nonce") == nonce, f"nonce {claims.get('nonce')}")
                check(claims.get("email") == "alice@corral.test", f"email {claims.get('email')}")
                check(claims.get("preferred_username") == "alice" and claims.get("login") == "alice.liddell",
                      f"username claims {claims.get('preferred_username')} {claims.get('login')}")
                check(sorted(claims.get("groups", [])) == ["admins", "devs"], f"groups {claims.get('groups')}")
                check(claims.get("sub") and claims["sub"] != "alice", f"sub is opaque ({claims.get('sub')})")
                check(claims.get("exp", 0) > time.time() > claims.get("iat", 1e12) - 60, "exp/iat")
                print(f"id_token claims: {json.dumps({k: v for k, v in claims.items() if k not in ('at_hash', 'c_hash')})}")
                status, info = op.userinfo(tok["access_token"])
                check(status == 200 and info.get("sub") == claims["sub"] and info.get("groups") == claims.get("groups")
                      and info.get("email") == "alice@corral.test", f"userinfo {status} {info}")
                status, again = op.token(q["code"][0], redirect)
                check(status in (400, 403) and again.get("error") in ("invalid_grant", "invalid_code"),
                      f"code replay refused {status} {again}")

                # a second flow: bob (one group), client_secret_post; carol (no groups)
                back = op.login(auth_url("s2", "n2"), "bob", "bob-secret")
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)
                status, tok = op.token(q["code"][0], redirect, auth="post")
                claims = decode_jwt(tok["id_token"])[1] if status == 200 else {}
                check(status == 200 and claims.get("groups") == ["devs"] and claims.get("nonce") == "n2",
                      f"bob, client_secret_post: {status} groups {claims.get('groups')}")
                back = op.login(auth_url("s3", "n3"), "carol", "carol-secret")
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)
                status, tok = op.token(q["code"][0], redirect)
                claims = decode_jwt(tok["id_token"])[1] if status == 200 else {}
                check(status == 200 and not claims.get("groups"), f"carol: no groups ({claims.get('groups')!r})")

                # PKCE (S256), as proxmox-openid sends it
                verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                url = auth_url("sp", "np") + "&" + urllib.parse.urlencode(dict(code_challenge=challenge,
                                                                                code_challenge_method="S256"))
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(op.login(url, "alice", "alice-secret")).query)
                status, bad = op.token(q["code"][0], redirect, code_verifier="x" * 43)
                check(status in (400, 403), f"PKCE: a wrong code_verifier is refused ({status} {bad})")
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(op.login(url, "alice", "alice-secret")).query)
                status, tok = op.token(q["code"][0], redirect, code_verifier=verifier)
                check(status == 200 and decode_jwt(tok["id_token"])[1].get("nonce") == "np", f"PKCE S256 flow ({status})")

                # failures
                try:
                    op.login(auth_url("s4", "n4"), "alice", "wrong")
                    check(False, "wrong password raises LoginFailed")
                except LoginFailed as e:
                    check(True, f"wrong password raises LoginFailed ({e})")
                back = op.login(auth_url("s5", "n5"), "alice", "alice-secret")
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)
                status, bad = op.token(q["code"][0], redirect, client_secret="nope")
                check(status in (400, 401, 403), f"wrong client secret refused ({status} {bad})")
                try:
                    back = op.login(auth_url("s6", "n6", redirect_uri="https://evil.test"), "alice", "alice-secret")
                    check("code=" not in back, f"unregistered redirect URI gets no code ({back[:120]})")
                except LoginFailed as e:
                    check(True, f"unregistered redirect URI refused ({e})")

                # administration
                op.add_user("zoe", "zoe-secret", email="zoe@corral.test", groups=["ops", "vm-admins"], login="zz")
                op.set_groups("bob", ["devs", "ops"])
                back = op.login(auth_url("s7", "n7"), "zoe", "zoe-secret")
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)
                claims = decode_jwt(op.token(q["code"][0], redirect)[1]["id_token"])[1]
                check(claims.get("groups") == ["ops", "vm-admins"] and claims.get("login") == "zz",
                      f"add_user: zoe's claims {claims.get('groups')} {claims.get('login')}")
                back = op.login(auth_url("s8", "n8"), "bob", "bob-secret")
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)
                claims = decode_jwt(op.token(q["code"][0], redirect)[1]["id_token"])[1]
                check(sorted(claims.get("groups", [])) == ["devs", "ops"], f"set_groups: bob {claims.get('groups')}")
                op.set_redirect_uris([redirect, "https://127.0.0.1:9999"])
                back = op.login(auth_url("s9", "n9", redirect_uri="https://127.0.0.1:9999"), "bob", "bob-secret")
                check(back.startswith("https://127.0.0.1:9999") and "code=" in back, "set_redirect_uris")
                r = op._request("GET", op.login_page)
                cfg = op._request("GET", f"{op.base_url}/config.json")
                check(r.status == 200 and b"<html" in r.body.lower() and cfg.status == 200
                      and "GlewlwydUrl" in cfg.json(), f"the login page and its config.json are served ({r.status} {cfg.status})")
                if tls:
                    try:
                        urllib.request.urlopen(op.discovery_url, timeout=5, context=ssl.create_default_context())
                        check(False, "HTTPS: the system trust store does not know the test CA")
                    except (ssl.SSLError, urllib.error.URLError):
                        check(True, "HTTPS: the system trust store does not know the test CA")
                pid = op.proc.pid
            check(not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower(),
                  "stop() ended glewlwyd")
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
