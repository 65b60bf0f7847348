#!/usr/bin/env python3
"""credserver.py - loopback stand-ins for the AWS credential endpoints, for
tests/e2e_s3_cred.sh. One server answers as:

  EC2 instance metadata (IMDSv2): PUT /latest/api/token needs
      X-aws-ec2-metadata-token-ttl-seconds (1..21600) and answers a session
      token; GET /latest/meta-data/iam/security-credentials/[ROLE] need
      X-aws-ec2-metadata-token with a live token (401 otherwise, as IMDS
      does) and answer the role name, then its credentials.
  ECS container credentials: GET /ecs/creds needs
      Authorization: <the --auth value> when one is given (401 otherwise).
  STS: POST / with Action=AssumeRoleWithWebIdentity (WebIdentityToken must
      equal the --web-token value, RoleArn the --role value) or
      Action=AssumeRole (signed: the Authorization header must name the
      --source-key access key and the sts service; RoleArn the --role
      value); XML answers like STS's, <ErrorResponse> on refusal.

Every credential issued is the S3 test server's key pair (S3RVER: the only
one it accepts) with a session token "fake-exp-<ms>-<n>": tests/s3/
faultproxy.js refuses a token past that expiry with ExpiredToken, as S3
refuses an expired session. Lifetime: --lifetime SECONDS.

  GET /__count   "imds N\necs N\nsts N\n": credentials issued per kind
  GET /__log     one line per request: "KIND STATUS"

Prints "credserver listening on 127.0.0.1:PORT".
"""
import argparse
import datetime
import http.server
import json
import secrets
import sys
import threading
import time
import urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument('--lifetime', type=float, default=3600)
ap.add_argument('--auth', default='')
ap.add_argument('--web-token', default='')
ap.add_argument('--role', default='arn:aws:iam::123456789012:role/strata')
ap.add_argument('--source-key', default='')
args = ap.parse_args()

lock = threading.Lock()
counts = {'imds': 0, 'ecs': 0, 'sts': 0}
log = []
imds_tokens = {}   # token -> expiry (monotonic)
serial = [0]


def issue(kind):
    with lock:
        counts[kind] += 1
        serial[0] += 1
        n = serial[0]
    exp = time.time() + args.lifetime
    iso = datetime.datetime.fromtimestamp(exp, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    return {'AccessKeyId': 'S3RVER', 'SecretAccessKey': 'S3RVER',
            'Token': 'fake-exp-%d-%d' % (int(exp * 1000), n), 'Expiration': iso}


def sts_xml(action, c):
    return ('<%sResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><%sResult>'
            '<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>'
            '<SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials>'
            '</%sResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></%sResponse>'
            % (action, action, c['AccessKeyId'], c['SecretAccessKey'], c['Token'], c['Expiration'],
               action, action))


def sts_error(code, msg):
    return ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
            '<Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error>'
            '<RequestId>1</RequestId></ErrorResponse>' % (code, msg))


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *a):
        pass

    def answer(self, kind, status, body, ctype='text/plain'):
        data = body.encode()
        with lock:
            log.append('%s %d' % (kind, status))
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def imds_token_ok(self):
        t = self.headers.get('X-aws-ec2-metadata-token', '')
        with lock:
            return t in imds_tokens and imds_tokens[t] > time.monotonic()

    def do_PUT(self):
        if self.path != '/latest/api/token':
            return self.answer('imds', 404, 'not found')
        ttl = self.headers.get('X-aws-ec2-metadata-token-ttl-seconds', '')
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.answer('imds-token', 400, 'bad ttl')
        t = secrets.token_urlsafe(40)
        with lock:
            imds_tokens[t] = time.monotonic() + int(ttl)
        return self.answer('imds-token', 200, t)

    def do_GET(self):
        p = self.path
        if p == '/__count':
            with lock:
                body = ''.join('%s %d\n' % kv for kv in sorted(counts.items()))
            return self.answer('ctl', 200, body)
        if p == '/__log':
            with lock:
                body = ''.join(l + '\n' for l in log)
            return self.answer('ctl', 200, body)
        if p.startswith('/latest/meta-data/iam/security-credentials/'):
            if self.headers.get('X-aws-ec2-metadata-token') is None or not self.imds_token_ok():
                return self.answer('imds', 401, 'unauthorized')
            role = p[len('/latest/meta-data/iam/security-credentials/'):]
            if role == '':
                return self.answer('imds-role', 200, 'strata-role')
            if role != 'strata-role':
                return self.answer('imds', 404, 'not found')
            c = issue('imds')
            c.update({'Code': 'Success', 'Type': 'AWS-HMAC', 'LastUpdated': c['Expiration']})
            return self.answer('imds', 200, json.dumps(c), 'application/json')
        if p == '/ecs/creds':
            if args.auth and self.headers.get('Authorization') != args.auth:
                return self.answer('ecs', 401, json.dumps({'message': 'bad authorization'}))
            c = issue('ecs')
            c['RoleArn'] = args.role
            return self.answer('ecs', 200, json.dumps(c), 'application/json')
        return self.answer('other', 404, 'not found')

    def do_POST(self):
        n = int(self.headers.get('Content-Length', '0'))
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        f = {k: v[0] for k, v in form.items()}
        action = f.get('Action', '')
        if f.get('Version') != '2011-06-15':
            return self.answer('sts', 400, sts_error('InvalidParameterValue', 'bad Version'), 'text/xml')
        if f.get('RoleArn') != args.role:
            return self.answer('sts', 403, sts_error('AccessDenied', 'Not authorized to assume ' +
                                                      f.get('RoleArn', '')), 'text/xml')
        if not f.get('RoleSessionName'):
            return self.answer('sts', 400, sts_error('ValidationError', 'RoleSessionName missing'), 'text/xml')
        if action == 'AssumeRoleWithWebIdentity':
            if f.get('WebIdentityToken') != args.web_token:
                return self.answer('sts', 400, sts_error('InvalidIdentityToken',
                                                         'Couldn\'t retrieve verification key'), 'text/xml')
            return self.answer('sts', 200, sts_xml(action, issue('sts')), 'text/xml')
        if action == 'AssumeRole':
            auth = self.headers.get('Authorization', '')
            if ('Credential=%s/' % args.source_key) not in auth or '/sts/aws4_request' not in auth:
                return self.answer('sts', 403, sts_error('SignatureDoesNotMatch', 'not signed by the source'),
                                   'text/xml')
            return self.answer('sts', 200, sts_xml(action, issue('sts')), 'text/xml')
        return self.answer('sts', 400, sts_error('InvalidAction', 'unknown action'), 'text/xml')


srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
print('credserver listening on 127.0.0.1:%d' % srv.server_address[1], flush=True)
try:
    srv.serve_forever()
except KeyboardInterrupt:
    pass
