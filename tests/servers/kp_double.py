#!/usr/bin/env python3
"""kp_double.py - a TEST DOUBLE of IBM Key Protect and the IBM Cloud IAM token service.

This is not Key Protect. It is a small stand-in, written for smar's tests from the public
Key Protect API reference (key actions wrap / unwrap / rewrap, the bluemix-instance header,
error bodies) and the IAM API-key token exchange, so that smar's real HTTP client, real TLS
and real retries can be tested on loopback without a cloud account. Python standard library
only. Its "wrapping" is HMAC-SHA256-based and only good enough to tell keys, versions and
AADs apart: never use it for anything but tests.

What it does:
  POST /identity/token          grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=K
                                -> {"access_token", "token_type", "expires_in", "expiration"}
                                   400 BXNIM0415E for an unknown API key
  POST /api/v2/keys/{id}/actions/wrap|unwrap|rewrap
                                authorization: Bearer T, bluemix-instance: I
                                401 for a missing/expired token, or a token of an API key
                                without access (--no-access-key); 404 unknown key; 410 deleted
                                key; 400 for a ciphertext or aad that does not open
  POST /_admin/rotate {"key": id}      new key version (wrap uses it; old ones still unwrap)
  POST /_admin/delete {"key": id}      key deleted
  POST /_admin/clear-faults           the schedule emptied
  POST /_admin/faults [fault, ...]     appended to the schedule; a request takes the first
                                       fault whose "on" matches (token, wrap, unwrap,
                                       rewrap, any):
        {"on": "unwrap", "status": 503, "retry_after": 1, "count": 2}
        {"on": "any", "drop": true}          close the connection without an answer
        {"on": "wrap", "delay": 2.5}         answer late (then normally)
Every request is logged, one JSON object a line, to --log: {"path", "action", "status"}
(never a header or a body).
--latency MS delays every answer but the /_admin/ ones by MS milliseconds (a distant region
for benchmarks: bench/providers.sh; 0, the default, adds nothing).

Usage: kp_double.py --cert C --key K --port-file F --log L --instance I --api-key A
                    [--no-access-key B] [--root-key ID[:ALIAS]]... [--token-ttl S]
                    [--latency MS]
"""
import argparse
import base64
import binascii
import hashlib
import hmac
import http.server
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

LOCK = threading.RLock()
STATE = {}


def now():
    return time.time()


class Key:
    def __init__(self, key_id, alias):
        self.id = key_id
        self.alias = alias
        self.versions = []  # [(version id, secret)]
        self.deleted = False
        self.rotate()

    def rotate(self):
        self.versions.append((str(uuid.uuid4()), os.urandom(32)))

    def secret(self, version_id):
        for vid, sec in self.versions:
            if vid == version_id:
                return sec
        return None


def keystream(secret, iv, n):
    out = b""
    counter = 0
    while len(out) < n:
        out += hmac.new(secret, b"enc" + iv + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        counter += 1
    return out[:n]


def tag_of(secret, iv, ct, aad):
    return hmac.new(secret, b"mac" + iv + ct + json.dumps(aad).encode(), hashlib.sha256).digest()


def seal(key, plaintext, aad):
    vid, secret = key.versions[-1]
    iv = os.urandom(16)
    ct = bytes(a ^ b for a, b in zip(plaintext, keystream(secret, iv, len(plaintext))))
    blob = {"v": vid, "iv": iv.hex(), "ct": ct.hex(), "tag": tag_of(secret, iv, ct, aad).hex()}
    return base64.b64encode(json.dumps(blob, separators=(",", ":")).encode()).decode(), vid


def unseal(key, ciphertext, aad):
    """(plaintext, version id), or None when the ciphertext or aad does not open."""
    try:
        blob = json.loads(base64.b64decode(ciphertext, validate=True))
        secret = key.secret(blob["v"])
        iv, ct = bytes.fromhex(blob["iv"]), bytes.fromhex(blob["ct"])
        tag = bytes.fromhex(blob["tag"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    if secret is None or not hmac.compare_digest(tag, tag_of(secret, iv, ct, aad)):
        return None
    return bytes(a ^ b for a, b in zip(ct, keystream(secret, iv, len(ct)))), blob["v"]


def kp_error(status, code, message):
    return status, {
        "metadata": {"collectionType": "application/vnd.ibm.kms.error+json", "collectionTotal": 1},
        "resources": [{"errorMsg": message,
                       "reasons": [{"code": code, "message": message, "status": status}]}],
    }


ACTION_PATH = re.compile(r"^/api/v2/keys/([A-Za-z0-9_-]+)/actions/(wrap|unwrap|rewrap)$")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: the status line and headers and then the body are two TLS records; with
    # Nagle the body waits for the client's delayed ACK (about 40 ms on Linux), a delay of
    # this double's that --latency 0 and the benchmarks must not charge to the client.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        pass

    def record(self, action, status):
        with LOCK:
            with open(STATE["log"], "a") as f:
                f.write(json.dumps({"path": self.path.split("?")[0], "action": action,
                                    "status": status}) + "\n")

    def answer(self, action, status, body, extra_headers=()):
        data = json.dumps(body).encode()
        self.record(action, status)  # before answering: the client may look right after
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def take_fault(self, action):
        with LOCK:
            for fault in STATE["faults"]:
                if fault.get("on", "any") in (action, "any") and fault.get("count", 1) > 0:
                    fault["count"] = fault.get("count", 1) - 1
                    return dict(fault)
        return None

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        if length > 1 << 20:
            return self.answer("?", 413, {"error": "too large"})
        raw = self.rfile.read(length)
        path = self.path.split("?")[0]
        if path.startswith("/_admin/"):
            return self.admin(path, raw)
        if STATE["latency"] > 0:  # the round trip to a remote service, before any answer
            time.sleep(STATE["latency"])
        m = ACTION_PATH.match(path)
        action = "token" if path == "/identity/token" else (m.group(2) if m else "?")
        fault = self.take_fault(action)
        if fault is not None:
            if fault.get("drop"):
                self.record(action, "dropped")
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return None
            if "delay" in fault:
                time.sleep(float(fault["delay"]))
            if "status" in fault:
                headers = []
                if "retry_after" in fault:
                    headers.append(("Retry-After", str(fault["retry_after"])))
                return self.answer(action, fault["status"],
                                   kp_error(fault["status"], "SERVICE_UNAVAILABLE_ERR",
                                            "injected fault")[1], headers)
        if action == "token":
            return self.token(raw)
        if m is None:
            return self.answer(action, *kp_error(404, "NOT_FOUND_ERR", "no such path"))
        return self.key_action(m.group(1), action, raw)

    def token(self, raw):
        form = urllib.parse.parse_qs(raw.decode("ascii", "replace"))
        if form.get("grant_type") != ["urn:ibm:params:oauth:grant-type:apikey"]:
            return self.answer("token", 400, {"errorCode": "BXNIM0109E",
                                              "errorMessage": "Unsupported grant type"})
        apikey = form.get("apikey", [""])[0]
        if apikey not in (STATE["api_key"], STATE["no_access_key"]):
            return self.answer("token", 400, {"errorCode": "BXNIM0415E",
                                              "errorMessage": "Provided API key could not be found"})
        token = "eyJ" + base64.urlsafe_b64encode(os.urandom(48)).decode().rstrip("=")
        ttl = STATE["token_ttl"]
        with LOCK:
            STATE["tokens"][token] = (now() + ttl, apikey == STATE["api_key"])
        return self.answer("token", 200, {"access_token": token, "refresh_token": "not-supported",
                                          "token_type": "Bearer", "expires_in": ttl,
                                          "expiration": int(now() + ttl)})

    def key_action(self, key_ref, action, raw):
        auth = self.headers.get("authorization", "")
        with LOCK:
            entry = STATE["tokens"].get(auth[7:]) if auth.startswith("Bearer ") else None
        if entry is None or entry[0] < now():
            return self.answer(action, *kp_error(401, "UNAUTHORIZED_ERR", "token invalid or expired"))
        if not entry[1]:
            return self.answer(action, *kp_error(401, "UNAUTHORIZED_ERR",
                                                 "no access to this key"))
        if self.headers.get("bluemix-instance") != STATE["instance"]:
            return self.answer(action, *kp_error(401, "UNAUTHORIZED_ERR", "wrong instance"))
        with LOCK:
            key = next((k for k in STATE["keys"] if key_ref in (k.id, k.alias)), None)
        if key is None:
            return self.answer(action, *kp_error(404, "KEY_NOT_FOUND_ERR", "key not found"))
        if key.deleted:
            return self.answer(action, *kp_error(410, "KEY_DELETED_ERR", "key was deleted"))
        try:
            req = json.loads(raw)
            aad = req.get("aad", [])
            if not isinstance(aad, list) or len(aad) > 255 or any(
                    not isinstance(a, str) or len(a) > 255 for a in aad):
                return self.answer(action, *kp_error(400, "BAD_BODY_ERR",
                                                     "aad: at most 255 strings of 255 characters"))
        except (ValueError, AttributeError):
            return self.answer(action, *kp_error(400, "BAD_BODY_ERR", "body is not JSON"))
        with LOCK:
            if action == "wrap":
                try:
                    plain = base64.b64decode(req["plaintext"], validate=True)
                except (KeyError, TypeError, binascii.Error):
                    return self.answer(action, *kp_error(400, "BAD_BODY_ERR", "plaintext"))
                ct, vid = seal(key, plain, aad)
                return self.answer(action, 200, {"ciphertext": ct, "keyVersion": {"id": vid}})
            opened = unseal(key, req.get("ciphertext", ""), aad)
            if opened is None:
                return self.answer(action, *kp_error(400, "UNWRAPPING_ERR",
                                                     "the ciphertext or aad is invalid"))
            if action == "unwrap":
                return self.answer(action, 200, {"plaintext": base64.b64encode(opened[0]).decode(),
                                                 "keyVersion": {"id": opened[1]}})
            ct, vid = seal(key, opened[0], aad)
            return self.answer(action, 200, {"ciphertext": ct, "keyVersion": {"id": vid}})

    def admin(self, path, raw):
        req = json.loads(raw or b"null")
        with LOCK:
            if path == "/_admin/faults":
                STATE["faults"].extend(req)
            elif path == "/_admin/clear-faults":
                STATE["faults"].clear()
            elif path in ("/_admin/rotate", "/_admin/delete"):
                key = next((k for k in STATE["keys"] if req["key"] in (k.id, k.alias)), None)
                if key is None:
                    return self.answer("admin", 404, {"error": "no such key"})
                if path == "/_admin/rotate":
                    key.rotate()
                else:
                    key.deleted = True
            else:
                return self.answer("admin", 404, {"error": "no such admin call"})
        return self.answer("admin", 200, {"ok": True})


def main():
    ap = argparse.ArgumentParser(description="Key Protect test double (not Key Protect)")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--instance", required=True)
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--no-access-key", default=None)
    ap.add_argument("--root-key", action="append", default=[])
    ap.add_argument("--token-ttl", type=int, default=3600)
    ap.add_argument("--latency", type=float, default=0.0,
                    help="milliseconds added before every answer but /_admin/ ones")
    a = ap.parse_args()
    if not 0 <= a.latency <= 60000:
        ap.error("--latency: 0 to 60000 milliseconds")
    STATE.update(log=a.log, instance=a.instance, api_key=a.api_key,
                 no_access_key=a.no_access_key or object(), token_ttl=a.token_ttl,
                 latency=a.latency / 1000.0,
                 tokens={}, faults=[],
                 keys=[Key(*(spec.split(":", 1) + [None])[:2]) for spec in a.root_key])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, a.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
