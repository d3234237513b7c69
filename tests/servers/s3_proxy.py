#!/usr/bin/env python3
"""s3_proxy.py - a CHECKING PROXY for smar's object-storage tests, in front of s3rver.

s3rver (the S3 server the tests run on loopback) does not verify SigV4 signatures, so every
request smar sends goes through this proxy first. It is HTTPS on loopback (a test CA made by
the test), forwards to s3rver over plain HTTP, and:
  - recomputes each request's SigV4 signature with botocore (an independent signer) from
    the method, the path and query as sent, the signed headers and the payload hash, and
    answers 403 SignatureDoesNotMatch to any mismatch, unknown access key or missing
    signature; it also checks x-amz-content-sha256 and Content-MD5 against the body;
  - counts requests and bytes (GET /_admin/stats);
  - adds latency to every request (POST /_admin/latency {"ms": 50}), and, with
    "connect_ms", more to the first request of each new connection: what the TCP and TLS
    handshakes cost over a real link (on loopback they cost nothing), e.g. {"ms": 50,
    "connect_ms": 100} for a 50 ms round trip (TCP one, TLS 1.3 one);
  - counts the client's connections ("connections" in the stats; "conn", the connection's
    number, in each line of the log);
  - injects faults from a schedule: a request takes the first fault whose "on" matches its
    method (GET, PUT, POST, DELETE, HEAD or any) and whose "query" (if given) is a substring
    of its query; each fault has a "count" (default 1) and may "skip" that many matching
    requests first:
        {"on": "PUT", "status": 503, "count": 2}      an S3 error answer (SlowDown for 503)
        {"on": "any", "drop": true}                  close the connection, no answer
        {"on": "PUT", "delay": 2}                    answer late (then normally)
        {"on": "any", "skip": 3, "drop": true, "count": 100000}   the server "goes away"
        {"on": "POST", "query": "uploadId", "lose": true}   forward it, then drop the
                                                     answer (the request took effect)
    and at random: POST /_admin/random {"rate": 0.2, "seed": 7} fails that share of the
    requests transiently (503 and dropped connections in turn); rate 0 stops it.
  POST /_admin/clear-faults and /_admin/reset-stats reset; admin requests are not counted.
It does not fix what s3rver gets wrong (bytes=-N is served as bytes 0..N): smar must cope.
It does answer for s3rver what S3 does and s3rver does not: a GET or HEAD with If-Match whose
ETag is not the object's gets 412 PreconditionFailed.
Every request is logged, one JSON object a line, to --log: method, path, query, range,
status, bytes in and out, the names of the signed headers (never a header value or a body,
except the values of the headers named by --log-header, which must hold no secret).

Test doubles, each of one operation s3rver lacks, only when asked for:
  --copy-double   UploadPartCopy (PUT ?partNumber&uploadId with x-amz-copy-source, which
                  s3rver answers 501) done here by a ranged GET of the source and an
                  UploadPart to s3rver, answered with a CopyPartResult; it honours
                  x-amz-copy-source-range and x-amz-copy-source-if-match (412).

  Object Lock retention (GetObjectRetention, GET ?retention, which s3rver answers 501
  NotImplemented), only for the keys it is given: POST /_admin/retention
      {"keys": {"/BUCKET/KEY": "2099-01-01T00:00:00Z" | "none"}, "default": "none"}
  answers GET /BUCKET/KEY?retention with a COMPLIANCE Retention document retaining it until
  that time, or "none" with 404 NoSuchObjectLockConfiguration (as S3 does for an object
  without retention); "default" (absent: none) does so for every other key, else s3rver
  answers. A DELETE of a key retained until a future time is refused 403 AccessDenied, as
  S3 refuses it. {"keys": {}, "default": null} turns it off.

IBM Cloud IAM bearer tokens, only when asked for:
  --bearer-iam URL  a request with "Authorization: Bearer T" (and no SigV4) is accepted when
                  the IAM test double at URL (tests/servers/kp_double.py) says it issued T
                  and T has not expired (POST URL/_admin/introspect; the double's certificate
                  is checked against $CURL_CA_BUNDLE), else answered 401; it is forwarded
                  to s3rver signed with s3rver's own key. SigV4 requests are checked as ever.

Usage: s3_proxy.py --cert C --key K --port-file F --upstream http://127.0.0.1:P
                   --access-key A --secret-key S [--log L] [--log-header NAME]...
                   [--copy-double] [--no-such-upload-double] [--bearer-iam URL]
"""
import argparse
import base64
import hashlib
import http.client
import http.server
import json
import os
import random
import re
import ssl
import sys
import threading
import time
import urllib.parse
import urllib.request

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

LOCK = threading.Lock()
STATE = {
    "faults": [],
    "latency_ms": 0,
    "connect_ms": 0,
    "next_conn": 0,
    "random_rate": 0.0,
    "random": random.Random(1),
    "random_n": 0,
    "stats": {},
    "completed": set(),
    "retention": {"keys": {}, "default": None},
}
AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/,]+)/(\d{8})/([^/,]+)/([^/,]+)/aws4_request,\s*"
    r"SignedHeaders=([a-z0-9;\-]+),\s*Signature=([0-9a-f]{64})$"
)


def empty_stats():
    return {"requests": 0, "bytes_in": 0, "bytes_out": 0, "by_method": {}, "rejected": 0,
            "connections": 0}


STATE["stats"] = empty_stats()


def check_signature(args, method, url, headers, body):
    """None when the signature is botocore's, else the reason."""
    auth = headers.get("Authorization")
    if not auth:
        return "no Authorization header"
    m = AUTH_RE.match(auth)
    if not m:
        return "malformed Authorization header"
    access_key, day, region, service, signed, signature = m.groups()
    if access_key != args.access_key:
        return "unknown access key"
    amz_date = headers.get("X-Amz-Date", "")
    if not amz_date.startswith(day):
        return "X-Amz-Date does not match the credential scope"
    payload = headers.get("X-Amz-Content-SHA256")
    if payload is None or "x-amz-content-sha256" not in signed.split(";"):
        return "x-amz-content-sha256 missing or not signed"
    if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body).hexdigest():
        return "x-amz-content-sha256 does not match the body"
    req = AWSRequest(method=method, url=url, data=body)
    for name in signed.split(";"):
        value = headers.get(name)
        if value is None:
            return "signed header %s not sent" % name
        req.headers[name] = value
    req.context["timestamp"] = amz_date
    token = headers.get("X-Amz-Security-Token")
    signer = S3SigV4Auth(Credentials(args.access_key, args.secret_key, token), service, region)
    canonical = signer.canonical_request(req)
    expected = signer.signature(signer.string_to_sign(req, canonical), req)
    if expected != signature:
        return "SignatureDoesNotMatch"
    return None


def token_active(args, token):
    """Whether the IAM test double issued token and it has not expired."""
    ctx = ssl.create_default_context(cafile=os.environ.get("CURL_CA_BUNDLE"))
    req = urllib.request.Request(args.bearer_iam.rstrip("/") + "/_admin/introspect",
                                 data=json.dumps({"token": token}).encode(), method="POST")
    with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
        return json.load(resp).get("active") is True


def sign_for_upstream(args, method, path, headers, body):
    """headers with a SigV4 signature of s3rver's own key (the bearer line dropped)."""
    up = urllib.parse.urlsplit(args.upstream)
    req = AWSRequest(method=method, url="http://%s%s" % (up.netloc, path), data=body)
    for k, v in headers.items():
        if k.lower() not in ("authorization", "x-amz-date"):
            req.headers[k] = v
    S3SigV4Auth(Credentials(args.access_key, args.secret_key), "s3", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def take_fault(method, query):
    with LOCK:
        for f in STATE["faults"]:
            if f.get("on", "any") not in ("any", method):
                continue
            if "query" in f and f["query"] not in query:
                continue
            if f.get("skip", 0) > 0:
                f["skip"] -= 1
                return None
            f["count"] = f.get("count", 1) - 1
            if f["count"] <= 0:
                STATE["faults"].remove(f)
            return f
        if STATE["random_rate"] > 0 and STATE["random"].random() < STATE["random_rate"]:
            STATE["random_n"] += 1
            return {"drop": True} if STATE["random_n"] % 2 == 0 else {"status": 503}
    return None


def retention_double(handler):
    """The Object Lock retention test double (POST /_admin/retention): True when it answered."""
    parts = urllib.parse.urlsplit(handler.path)
    with LOCK:
        keys, default = STATE["retention"]["keys"], STATE["retention"]["default"]
    until = keys.get(urllib.parse.unquote(parts.path), default)
    if until is None:
        return False
    if handler.command == "GET" and parts.query in ("retention", "retention="):
        if until == "none":
            handler.record(404, 0, 0)
            handler.answer(404, error_xml("NoSuchObjectLockConfiguration",
                                          "The specified object does not have a ObjectLock configuration"))
            return True
        xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<Retention xmlns="http://s3.amazonaws.com/'
               'doc/2006-03-01/"><Mode>COMPLIANCE</Mode><RetainUntilDate>%s</RetainUntilDate>'
               "</Retention>" % until).encode()
        handler.record(200, 0, len(xml))
        handler.answer(200, xml, [("Content-Type", "application/xml")])
        return True
    if handler.command == "DELETE" and until != "none" and until > time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime()):
        handler.record(403, 0, 0)
        handler.answer(403, error_xml("AccessDenied", "Access Denied because object protected by object lock."))
        return True
    return False


def error_xml(code, message):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
        "</Error>" % (code, message)
    ).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    args = None
    log_file = None

    def log_message(self, fmt, *a):
        pass

    def setup(self):
        super().setup()
        with LOCK:
            STATE["next_conn"] += 1
            self.conn_id = STATE["next_conn"]
        self.conn_new = True

    def record(self, status, bytes_in, bytes_out):
        parts = urllib.parse.urlsplit(self.path)
        m = AUTH_RE.match(self.headers.get("Authorization", ""))
        entry = {
            "signed": m.group(5).split(";") if m else [],
            "method": self.command,
            "path": parts.path,
            "query": parts.query,
            "range": self.headers.get("Range", ""),
            "status": status,
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "conn": self.conn_id,
        }
        for name in self.args.log_header or []:
            if name in self.headers:
                entry[name.lower()] = self.headers[name]
        with LOCK:
            s = STATE["stats"]
            s["requests"] += 1
            s["bytes_in"] += bytes_in
            s["bytes_out"] += bytes_out
            if self.conn_new:
                s["connections"] += 1
            self.conn_new = False
            s["by_method"][self.command] = s["by_method"].get(self.command, 0) + 1
            if status == 403:
                s["rejected"] += 1
            if self.log_file:
                self.log_file.write(json.dumps(entry) + "\n")
                self.log_file.flush()

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def admin(self, body):
        what = self.path[len("/_admin/"):]
        data = json.loads(body or b"null") if self.command == "POST" else None
        with LOCK:
            if what == "stats":
                return self.answer(200, json.dumps(STATE["stats"]).encode())
            if what == "reset-stats":
                STATE["stats"] = empty_stats()
            elif what == "faults":
                STATE["faults"].extend(data)
            elif what == "clear-faults":
                STATE["faults"] = []
                STATE["random_rate"] = 0.0
            elif what == "retention":
                STATE["retention"] = {"keys": data.get("keys", {}), "default": data.get("default")}
            elif what == "latency":
                STATE["latency_ms"] = int(data["ms"])
                STATE["connect_ms"] = int(data.get("connect_ms", 0))
            elif what == "random":
                STATE["random_rate"] = float(data["rate"])
                STATE["random"] = random.Random(data.get("seed", 1))
            else:
                return self.answer(404)
        self.answer(200, b"{}")

    def handle_any(self):
        body = self.read_body()
        declared = int(self.headers.get("Content-Length") or 0)
        if len(body) < declared:
            # the client went away mid-body (killed or interrupted): not a request to check
            print("s3_proxy: client left %s %s after %d of %d body bytes" %
                  (self.command, self.path, len(body), declared), file=sys.stderr)
            self.close_connection = True
            return
        if self.path.startswith("/_admin/"):
            return self.admin(body)
        url = "https://%s%s" % (self.headers.get("Host", ""), self.path)
        self.resign = False
        bearer = self.headers.get("Authorization", "")
        if self.args.bearer_iam and bearer.startswith("Bearer "):
            if not token_active(self.args, bearer[len("Bearer "):]):
                self.record(401, len(body), 0)
                print("s3_proxy: rejected %s %s: bearer token not active" % (self.command, self.path),
                      file=sys.stderr)
                return self.answer(401, error_xml("InvalidToken", "token not active"))
            why, self.resign = None, True
        else:
            why = check_signature(self.args, self.command, url, self.headers, body)
        if why is None and "Content-MD5" in self.headers:
            md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
            if md5 != self.headers["Content-MD5"]:
                self.record(400, len(body), 0)
                return self.answer(400, error_xml("BadDigest", "Content-MD5 mismatch"))
        if why is not None:
            self.record(403, len(body), 0)
            print("s3_proxy: rejected %s %s: %s" % (self.command, self.path, why), file=sys.stderr)
            return self.answer(403, error_xml("SignatureDoesNotMatch", why))
        latency = STATE["latency_ms"]
        if self.conn_new:
            latency += STATE["connect_ms"]
        if latency:
            time.sleep(latency / 1000.0)
        fault = take_fault(self.command, urllib.parse.urlsplit(self.path).query)
        if fault is not None:
            if fault.get("drop"):
                self.record(0, len(body), 0)
                self.close_connection = True
                self.connection.shutdown(2)
                return None
            if "status" in fault:
                self.record(fault["status"], len(body), 0)
                code = "SlowDown" if fault["status"] == 503 else "InjectedFault"
                return self.answer(fault["status"], error_xml(code, "injected"))
            if "delay" in fault:
                time.sleep(float(fault["delay"]))
            if fault.get("lose"):
                self.forward(body, lose=True)
                return None
        upload = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("uploadId")
        if self.args.no_such_upload_double and upload and upload[0] in STATE["completed"]:
            self.record(404, len(body), 0)
            return self.answer(404, error_xml("NoSuchUpload", "completed already"))
        if retention_double(self):
            return None
        if self.args.copy_double and self.command == "PUT" and "x-amz-copy-source" in self.headers:
            return self.copy_part()
        if self.command in ("GET", "HEAD") and "If-Match" in self.headers and not self.if_match():
            self.record(412, len(body), 0)
            return self.answer(412, error_xml("PreconditionFailed", "If-Match"))
        self.forward(body)

    def if_match(self):
        """Whether the object's ETag is the If-Match one (s3rver ignores If-Match: S3 answers
        412 PreconditionFailed when it does not match)."""
        path = urllib.parse.urlsplit(self.path).path
        status, headers, _ = self.upstream("HEAD", path)
        etag = {k.lower(): v for k, v in headers.items()}.get("etag")
        want = self.headers["If-Match"].strip()
        return status != 200 or want == "*" or etag == want

    def upstream(self, method, path, headers=None, body=b""):
        up = urllib.parse.urlsplit(self.args.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def copy_part(self):
        """The UploadPartCopy test double: GET the source range, PUT it as the part."""
        source = urllib.parse.unquote(self.headers["x-amz-copy-source"])
        if not source.startswith("/"):
            source = "/" + source
        get_headers = {}
        if "x-amz-copy-source-range" in self.headers:
            get_headers["Range"] = self.headers["x-amz-copy-source-range"]
        status, headers, data = self.upstream("HEAD", urllib.parse.quote(source))
        want = self.headers.get("x-amz-copy-source-if-match")
        if status == 200 and want is not None and headers.get("ETag") != want:
            self.record(412, 0, 0)
            return self.answer(412, error_xml("PreconditionFailed", "x-amz-copy-source-if-match"))
        status, headers, data = self.upstream("GET", urllib.parse.quote(source), get_headers)
        if status not in (200, 206):
            self.record(status, 0, 0)
            return self.answer(status, error_xml("NoSuchKey", "copy source"))
        status, headers, answer = self.upstream(
            "PUT", self.path, {"Content-Length": str(len(data))}, data)
        if status != 200:
            self.record(status, 0, len(answer))
            return self.answer(status, answer)
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<CopyPartResult><LastModified>'
            "2026-01-01T00:00:00.000Z</LastModified><ETag>%s</ETag></CopyPartResult>"
            % headers.get("ETag", "").replace('"', "&quot;")
        ).encode()
        self.record(200, 0, len(xml))
        self.answer(200, xml, [("Content-Type", "application/xml")])

    def forward(self, body, lose=False):
        up = urllib.parse.urlsplit(self.args.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "expect", "connection")}
        headers["Host"] = up.netloc
        headers["Content-Length"] = str(len(body))
        if getattr(self, "resign", False):
            headers = sign_for_upstream(self.args, self.command, self.path, headers, body)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        upload = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("uploadId")
        if self.command == "POST" and upload and resp.status == 200:
            with LOCK:
                STATE["completed"].add(upload[0])
        if lose:
            self.record(0, len(body), 0)
            self.close_connection = True
            self.connection.shutdown(2)
            return
        skip = ("transfer-encoding", "connection", "content-length", "keep-alive")
        out = [(k, v) for k, v in resp.getheaders() if k.lower() not in skip]
        self.send_response(resp.status)
        for k, v in out:
            self.send_header(k, v)
        if self.command == "HEAD":
            length = resp.getheader("Content-Length", "0")
            self.send_header("Content-Length", length)
            self.end_headers()
            self.record(resp.status, len(body), 0)
            return
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.record(resp.status, len(body), len(data))

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--log")
    ap.add_argument("--log-header", action="append")
    ap.add_argument("--copy-double", action="store_true")
    ap.add_argument("--no-such-upload-double", action="store_true")
    ap.add_argument("--bearer-iam", metavar="URL")
    args = ap.parse_args()
    Handler.args = args
    Handler.log_file = open(args.log, "a") if args.log else None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
