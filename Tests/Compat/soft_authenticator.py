"""A software WebAuthn authenticator for API-level tests: what a security key and the browser's
navigator.credentials together answer, built from the `cryptography` package's real P-256 ECDSA.

  key = SoftAuthenticator(origin="https://localhost:8006")
  answer = key.create(options)        # options: the JSON text of PublicKeyCredentialCreationOptions
  answer = key.get(options)           # PublicKeyCredentialRequestOptions -> assertion
Answers are dicts in the wire format PVE's GUI sends (binary fields base64url without padding).
attestation="packed" signs the attestation with the credential's own key (self attestation);
the default is "none". `counter` is the signature counter the next answer carries.
"""
import base64
import hashlib
import json
import os
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cbor(value):
    """Canonical-enough CBOR for what an authenticator writes: ints, bytes, text, lists, maps."""
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
            if n < 1 << (8 * struct.calcsize(fmt)):
                return bytes([major << 5 | info]) + struct.pack(fmt, n)
        raise ValueError("too large")
    if isinstance(value, bool):
        return bytes([0xF5 if value else 0xF4])
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        raw = value.encode()
        return head(3, len(raw)) + raw
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(cbor(v) for v in value)
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(type(value))


class SoftAuthenticator:
    def __init__(self, origin, attestation="none"):
        self.origin = origin
        self.attestation = attestation
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.counter = 1
        self.rp_id = None

    def cose_key(self):
        numbers = self.key.public_key().public_numbers()
        return cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def auth_data(self, rp_id, attested):
        flags = 0x01 | (0x40 if attested else 0)
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", self.counter)
        if attested:
            data += b"\0" * 16 + struct.pack(">H", len(self.credential_id)) + self.credential_id + self.cose_key()
        return data

    def client_data(self, kind, challenge, origin=None):
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}).encode()

    def create(self, options, origin=None):
        opts = (json.loads(options) if isinstance(options, str) else options)["publicKey"]
        self.rp_id = opts["rp"]["id"]
        client = self.client_data("webauthn.create", opts["challenge"], origin)
        auth = self.auth_data(self.rp_id, attested=True)
        statement = {}
        if self.attestation == "packed":
            signature = self.key.sign(auth + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256()))
            statement = {"alg": -7, "sig": signature}
        obj = cbor({"fmt": self.attestation, "attStmt": statement, "authData": auth})
        self.counter += 1
        return {"id": b64u(self.credential_id), "rawId": b64u(self.credential_id), "type": "public-key",
                "response": {"attestationObject": b64u(obj), "clientDataJSON": b64u(client)}}

    def get(self, options, origin=None, counter=None):
        opts = (json.loads(options) if isinstance(options, str) else options)["publicKey"]
        if counter is not None:
            self.counter = counter
        client = self.client_data("webauthn.get", opts["challenge"], origin)
        auth = self.auth_data(opts.get("rpId") or self.rp_id, attested=False)
        signature = self.key.sign(auth + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256()))
        self.counter += 1
        return {"id": b64u(self.credential_id), "rawId": b64u(self.credential_id), "type": "public-key",
                "challenge": opts["challenge"],
                "response": {"authenticatorData": b64u(auth), "clientDataJSON": b64u(client), "signature": b64u(signature)}}


def tfa_options(ticket):
    """The second-factor challenge a partial ticket carries (`PVE:!tfa!<JSON, ':' as %3A>:<time>::<sig>`)."""
    data = ticket.split(":", 1)[1].rsplit("::", 1)[0].rsplit(":", 1)[0]
    assert data.startswith("!tfa!"), ticket
    return json.loads(data[len("!tfa!"):].replace("%3A", ":"))
