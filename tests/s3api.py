# s3api.py — the few S3 requests the e2e scripts make behind strata's back
# (an independent client: list, head, get, put, delete), signed with SigV4
# like any client's. It stands in for `aws s3api`, whose start-up (botocore
# loading its service models) costs ~1.3 s of CPU per call on the test
# machines against ~0.1 s here; the scripts made dozens of such calls.
# Standard library only: run it with python3 -S.
#
#   python3 -S tests/s3api.py ENDPOINT BUCKET list PREFIX     "KEY SIZE" lines, in listing order
#   python3 -S tests/s3api.py ENDPOINT BUCKET head KEY        JSON as `aws s3api head-object` prints it
#                                                              (ContentLength, ETag, StorageClass when
#                                                              the server sends one); exit 1 if absent
#   python3 -S tests/s3api.py ENDPOINT BUCKET get KEY FILE
#   python3 -S tests/s3api.py ENDPOINT BUCKET put KEY FILE [STORAGE_CLASS [sha256]]
#                                                              sha256: send x-amz-checksum-sha256 too
#   python3 -S tests/s3api.py ENDPOINT BUCKET delete KEY
#
# Credentials and region: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_DEFAULT_REGION (tests/s3/s3lib.sh exports the test server's).
#
#   python3 -S tests/s3api.py raw PORT PATH
#
# An unsigned GET of http://127.0.0.1:PORT/PATH, its body on stdout
# whatever the status; exit 1 if the connection fails: the fault proxy's
# control requests (tests/s3/faultproxy.js /__faults, /__log ...), as
# s3lib.sh's s3_proxy_get makes them with node, with only the socket
# module (~0.05 s of CPU a call against ~0.15 s for node's start).
import os, sys


def raw(port, path):
    import socket
    try:
        c = socket.create_connection(("127.0.0.1", int(port)), timeout=60)
        c.sendall(b"GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n" % (path.encode(), port.encode()))
        data = []
        while True:
            b = c.recv(65536)
            if not b:
                break
            data.append(b)
        c.close()
    except OSError as e:
        sys.exit("%s: %s" % (path, e))
    resp = b"".join(data)
    head, sep, body = resp.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/"):
        sys.exit("%s: not an HTTP response" % path)
    sys.stdout.buffer.write(body)


if len(sys.argv) > 1 and sys.argv[1] == "raw":
    raw(sys.argv[2], sys.argv[3])
    sys.exit(0)

import base64, datetime, hashlib, hmac, http.client, json
import urllib.parse
import xml.etree.ElementTree as ET


def quote(s, safe):
    return urllib.parse.quote(s, safe=safe)


def request(endpoint, method, path, query=None, body=b"", headers=None):
    u = urllib.parse.urlsplit(endpoint)
    now = datetime.datetime.now(datetime.timezone.utc)
    amzdate = now.strftime("%Y%m%dT%H%M%SZ")
    day = amzdate[:8]
    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    h = {k.lower(): v for k, v in (headers or {}).items()}
    h["host"] = u.netloc
    h["x-amz-date"] = amzdate
    h["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    cpath = quote(path, "/-_.~")
    cquery = "&".join("%s=%s" % (quote(k, "-_.~"), quote(v, "-_.~"))
                      for k, v in sorted((query or {}).items()))
    names = sorted(h)
    creq = "\n".join([method, cpath, cquery,
                      "".join("%s:%s\n" % (k, str(h[k]).strip()) for k in names),
                      ";".join(names), h["x-amz-content-sha256"]])
    scope = "%s/%s/s3/aws4_request" % (day, region)
    sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    key = ("AWS4" + os.environ["AWS_SECRET_ACCESS_KEY"]).encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    h["authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
                          % (os.environ["AWS_ACCESS_KEY_ID"], scope, ";".join(names), sig))
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.request(method, cpath + ("?" + cquery if cquery else ""), body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, r, data


def fail(what, status, data):
    sys.exit("s3api: %s: HTTP %d %s" % (what, status, data[:300].decode("utf-8", "replace")))


def main():
    endpoint, bucket, op = sys.argv[1:4]
    args = sys.argv[4:]
    if op == "list":
        q = {"list-type": "2", "prefix": args[0]}
        while True:
            st, _, data = request(endpoint, "GET", "/" + bucket, q)
            if st != 200:
                fail("list " + args[0], st, data)
            root = ET.fromstring(data)
            ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            for c in root.iter(ns + "Contents"):
                print(c.find(ns + "Key").text, c.find(ns + "Size").text)
            tok = root.find(ns + "NextContinuationToken")
            if root.findtext(ns + "IsTruncated") != "true" or tok is None:
                break
            q["continuation-token"] = tok.text
    elif op == "head":
        st, r, data = request(endpoint, "HEAD", "/%s/%s" % (bucket, args[0]))
        if st != 200:
            fail("head " + args[0], st, data)
        out = {"ContentLength": int(r.getheader("Content-Length")), "ETag": r.getheader("ETag")}
        if r.getheader("x-amz-storage-class"):
            out["StorageClass"] = r.getheader("x-amz-storage-class")
        print(json.dumps(out, indent=4))
    elif op == "get":
        st, _, data = request(endpoint, "GET", "/%s/%s" % (bucket, args[0]))
        if st != 200:
            fail("get " + args[0], st, data)
        with open(args[1], "wb") as f:
            f.write(data)
    elif op == "put":
        with open(args[1], "rb") as f:
            body = f.read()
        h = {"content-length": str(len(body))}
        if len(args) > 2 and args[2]:
            h["x-amz-storage-class"] = args[2]
        if len(args) > 3 and args[3] == "sha256":
            h["x-amz-checksum-sha256"] = base64.b64encode(hashlib.sha256(body).digest()).decode()
        st, _, data = request(endpoint, "PUT", "/%s/%s" % (bucket, args[0]), body=body, headers=h)
        if st != 200:
            fail("put " + args[0], st, data)
    elif op == "delete":
        st, _, data = request(endpoint, "DELETE", "/%s/%s" % (bucket, args[0]))
        if st not in (200, 204):
            fail("delete " + args[0], st, data)
    else:
        sys.exit("s3api: unknown operation " + op)


main()
