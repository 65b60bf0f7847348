// faultproxy.js — an HTTP proxy in front of the test S3 server that injects
// faults on chosen requests, so the S3 backend's retries and integrity checks
// can be tested. Plain node http; no dependencies.
//
//   node faultproxy.js TARGET_HOST:TARGET_PORT
//
// Listens on 127.0.0.1 on a free port and prints
// "faultproxy listening on 127.0.0.1:PORT". Requests keep their Host header,
// so SigV4 signatures made for the proxy's address verify at the server.
//
// Control (never forwarded):
//   GET /__faults?spec=SPEC   set the fault plan and restart request numbering
//   GET /__log                one line per request since: "N METHOD PATH STATUS FAULT"
//   GET /__peak               the most requests open at once since (a request is
//                             open from its arrival until its answer ends)
//   GET /__cold?ms=MS         archive mode (MS >= 0; -1 ends it): every GET of a
//                             key with a "/data/" component answers 403
//                             InvalidObjectState, like S3 for GLACIER and
//                             DEEP_ARCHIVE objects, until a RestoreObject
//                             (POST ?restore) for that key is MS milliseconds
//                             old. The proxy answers RestoreObject itself
//                             (the test server has none): 202 the first
//                             time, 409 RestoreAlreadyInProgress while
//                             thawing, 200 once readable. Logged with the
//                             fault "cold".
//   GET /__class?key=KEY&class=CLASS  take KEY ("/BUCKET/KEY...") as stored in
//                             CLASS, as a lifecycle transition would: the
//                             listing names it, and in archive mode a GET of
//                             it answers InvalidObjectState when CLASS is
//                             GLACIER or DEEP_ARCHIVE (whatever its prefix)
//   GET /__headers            one line per request since the last /__faults:
//                             "N METHOD PATH name=value ..." with the request's
//                             x-amz-server-side-encryption*, x-amz-object-lock-*,
//                             x-amz-security-token and x-amz-storage-class headers
//   GET /__age?days=D         every object stored until now looks D days older
//                             in listings (ListObjectsV2's LastModified), as
//                             if uploaded D days ago; objects stored later
//                             are not shifted; calls add up. For tests of
//                             minimum storage durations. D=0 clears all.
//   GET /__policy?nodelete=1  an append-only credential: every DELETE answers
//                             403 AccessDenied (nodelete=0 ends it)
//
// Like S3, the proxy refuses a request whose x-amz-security-token is one of
// tests/s3/credserver.py's ("fake-exp-MS-N") once MS has passed: 400
// ExpiredToken. And like a bucket with Object Lock, it keeps the retention
// a PUT (or CreateMultipartUpload) asked for with
// x-amz-object-lock-retain-until-date, shows it on HEAD
// (x-amz-object-lock-mode, x-amz-object-lock-retain-until-date) and answers
// a DELETE before that date 403 AccessDenied. (The test server accepts and
// ignores these headers, so they are forwarded as signed.)
//
// SPEC is a comma-separated list of N:FAULT (N counts requests from 1) or
// *:FAULT (every request). FAULT is one of
//   500 | 503          answer InternalError / SlowDown without forwarding
//   retryafter-S       answer 503 SlowDown with "Retry-After: S" (seconds)
//   reset              destroy the connection without answering
//   drop               forward, then destroy the connection without answering
//                      (the store did the work; the client never hears)
//   close              forward, then send the head and half the body, drop
//   delay-MS           wait MS milliseconds, then forward
//   slowdata-MS        a PUT of a key with a "/data/" component: wait MS
//                      milliseconds, then forward; others go straight
//   stall-MS           forward, send the head and half the body, wait MS,
//                      then the rest (a client with a low-speed limit gives up)
//   corrupt            flip one byte of the request body before forwarding
//   flip               flip one byte of the answer's body
// A hostile server's listings (ListObjectsV2 requests only, answered by the
// proxy itself with one key under the request's prefix per page; other
// requests go to the server untouched). Each may end in "-DIR" to answer
// only listings whose prefix has a component DIR (list-loop-snapshots):
//   list-loop          IsTruncated=true with the same continuation token
//                      "loop" and the same key, every time
//   list-endless       IsTruncated=true with a new token and a new key each
//                      page ("next-N", "PREFIXendless-00000000N"), for ever
//   list-empty         IsTruncated=true with a new token and no key, for ever
//   list-notoken       IsTruncated=true and no token
// A hostile server's objects (GETs of a key with a component DIR, e.g.
// "locks" or "config"; other requests go to the server untouched):
//   huge-DIR           answer 200 with Content-Length 3 GiB and stream
//                      zeros until the client stops reading
//   hugechunked-DIR    the same 3 GiB without a Content-Length (chunked)
// Both log "N GET PATH 200 FAULT sent=BYTES" when the answer ends: BYTES
// is how much of the body the client let through before it hung up.
//
// Like S3 (and unlike the test server), the proxy verifies request bodies
// against x-amz-checksum-sha256 and x-amz-content-sha256 and answers
// 400 BadDigest / XAmzContentSHA256Mismatch when they differ. It also
// remembers the x-amz-checksum-sha256 of each object PUT through it and,
// like S3, returns it on a whole-object GET or a HEAD that sends
// x-amz-checksum-mode: ENABLED, so clients can check what they read or
// what was stored, without reading it (a HEAD works in every storage
// class, cold mode too). It also remembers the x-amz-storage-class of
// each PUT and, like S3 (the test server always says STANDARD), reports
// it as the <StorageClass> of ListObjectsV2.
'use strict'

const http = require('node:http')
const crypto = require('node:crypto')

const target = process.argv[2] || ''
const m = /^([^:]+):(\d+)$/.exec(target)
if (!m) {
	console.error('usage: node faultproxy.js TARGET_HOST:TARGET_PORT')
	process.exit(2)
}
const targetHost = m[1]
const targetPort = Number(m[2])

let plan = new Map()
let every = null
let counter = 0
let log = []
let open = 0
let peak = 0
const checksums = new Map()
const classes = new Map()   // path -> x-amz-storage-class of its PUT (not STANDARD)
let coldMs = -1
const thawAt = new Map()    // path -> time a restored copy becomes readable
let headersLog = []
let noDelete = false
let ageShifts = []          // { cut, ms }: objects stored at or before cut look ms older
const retention = new Map() // path -> { mode, until } of an Object Lock retention
const pendingRetention = new Map() // path -> the same, from CreateMultipartUpload

function setPlan(spec) {
	plan = new Map()
	every = null
	counter = 0
	log = []
	headersLog = []
	peak = open
	for (const item of (spec || '').split(',').filter(Boolean)) {
		const i = item.indexOf(':')
		const n = item.slice(0, i)
		const fault = item.slice(i + 1)
		if (n === '*') every = fault
		else plan.set(Number(n), fault)
	}
}

function s3Error(res, status, code, message, extra) {
	const body = '<?xml version="1.0" encoding="UTF-8"?>\n' +
		`<Error><Code>${code}</Code><Message>${message}</Message></Error>`
	res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body), ...(extra || {}) })
	res.end(body)
}

function xmlText(s) {
	return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

// listAnswer — a ListObjectsV2 page for a list-* fault.
function listAnswer(res, url, fault) {
	const prefix = url.searchParams.get('prefix') || ''
	const token = url.searchParams.get('continuation-token') || ''
	const n = /^next-(\d+)$/.test(token) ? Number(token.slice(5)) : 0
	const mode = fault.split('-')[1]
	let key = null
	let next = null
	if (mode === 'loop') { key = `${prefix}loop`; next = 'loop' }
	else if (mode === 'endless') { key = `${prefix}endless-${String(n).padStart(9, '0')}`; next = `next-${n + 1}` }
	else if (mode === 'empty') next = `next-${n + 1}`
	else key = `${prefix}notoken`
	const body = '<?xml version="1.0" encoding="UTF-8"?>\n' +
		'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
		`<Name>${xmlText(url.pathname.split('/')[1] || '')}</Name><Prefix>${xmlText(prefix)}</Prefix>` +
		`<KeyCount>${key ? 1 : 0}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>` +
		(key ? `<Contents><Key>${xmlText(key)}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>` +
			'<ETag>"0"</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>' : '') +
		(token ? `<ContinuationToken>${xmlText(token)}</ContinuationToken>` : '') +
		(next ? `<NextContinuationToken>${xmlText(next)}</NextContinuationToken>` : '') +
		'</ListBucketResult>'
	res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) })
	res.end(body)
}

// hugeAnswer — 3 GiB of zeros for a huge-* fault, written as fast as the
// client reads; the log line counts what left before it hung up.
function hugeAnswer(req, res, n, fault) {
	const total = 3 * 1024 * 1024 * 1024
	const headers = { 'Content-Type': 'application/octet-stream' }
	if (fault.startsWith('huge-')) headers['Content-Length'] = String(total)
	res.writeHead(200, headers)
	const block = Buffer.alloc(64 * 1024)
	let sent = 0
	let logged = false
	const done = () => {
		if (logged) return
		logged = true
		log.push(`${n} ${req.method} ${req.url} 200 ${fault} sent=${sent}`)
	}
	const pump = () => {
		while (sent < total && !res.destroyed) {
			const k = Math.min(block.length, total - sent)
			sent += k
			if (!res.write(k === block.length ? block : block.subarray(0, k))) {
				res.once('drain', pump)
				return
			}
		}
		if (!res.destroyed) res.end()
		done()
	}
	res.on('close', done)
	pump()
}

function integrityError(req, body) {
	const sum = req.headers['x-amz-checksum-sha256']
	if (sum && crypto.createHash('sha256').update(body).digest('base64') !== sum)
		return ['BadDigest', 'The SHA256 you specified did not match the calculated checksum.']
	const content = req.headers['x-amz-content-sha256']
	if (content && /^[0-9a-f]{64}$/.test(content) &&
	    crypto.createHash('sha256').update(body).digest('hex') !== content)
		return ['XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.']
	return null
}

function forward(req, body, done) {
	const headers = { ...req.headers }
	delete headers.expect
	headers['content-length'] = String(body.length)
	if (body.length === 0 && req.method !== 'PUT' && req.method !== 'POST') delete headers['content-length']
	const up = http.request({ host: targetHost, port: targetPort, method: req.method, path: req.url, headers }, (ures) => {
		const chunks = []
		ures.on('data', (c) => chunks.push(c))
		ures.on('end', () => done(null, ures, Buffer.concat(chunks)))
		ures.on('error', (e) => done(e))
	})
	up.on('error', (e) => done(e))
	up.end(body)
}

function answerHeaders(req, ures, body) {
	const h = { ...ures.headers }
	delete h.connection
	delete h['keep-alive']
	if (req.method !== 'HEAD') {
		delete h['transfer-encoding']
		h['content-length'] = String(body.length)
	}
	return h
}

const server = http.createServer((req, res) => {
	const url = new URL(req.url, 'http://x')
	if (url.pathname === '/__faults') {
		setPlan(url.searchParams.get('spec'))
		res.end('ok\n')
		return
	}
	if (url.pathname === '/__cold') {
		coldMs = Number(url.searchParams.get('ms'))
		thawAt.clear()
		res.end('ok\n')
		return
	}
	if (url.pathname === '/__class') {
		classes.set(url.searchParams.get('key'), url.searchParams.get('class'))
		res.end('ok\n')
		return
	}
	if (url.pathname === '/__log') {
		res.end(log.join('\n') + (log.length ? '\n' : ''))
		return
	}
	if (url.pathname === '/__headers') {
		res.end(headersLog.join('\n') + (headersLog.length ? '\n' : ''))
		return
	}
	if (url.pathname === '/__age') {
		const days = Number(url.searchParams.get('days'))
		if (days === 0) ageShifts = []
		else ageShifts.push({ cut: Date.now(), ms: days * 86400000 })
		res.end('ok\n')
		return
	}
	if (url.pathname === '/__policy') {
		noDelete = url.searchParams.get('nodelete') === '1'
		res.end('ok\n')
		return
	}
	if (url.pathname === '/__peak') {
		res.end(`${peak}\n`)
		return
	}
	open++
	if (open > peak) peak = open
	// Whichever comes first: the answer sent, or the connection gone
	// (a reset fault answers nothing).
	const sock = req.socket
	let ended = false
	const end = () => {
		if (ended) return
		ended = true
		open--
		sock.removeListener('close', end)
	}
	res.on('finish', end)
	res.on('close', end)
	sock.on('close', end)
	const n = ++counter
	const fault = plan.get(n) || every || ''
	// S3 judges the credentials when the request arrives, not when a slow
	// body has finished arriving.
	const arrived = Date.now()
	const chunks = []
	req.on('data', (c) => chunks.push(c))
	req.on('end', () => {
		let body = Buffer.concat(chunks)
		const note = (status) => log.push(`${n} ${req.method} ${req.url} ${status} ${fault || '-'}`)
		const shown = Object.keys(req.headers).filter((h) =>
			/^x-amz-(server-side-encryption|object-lock|security-token|storage-class)/.test(h)).sort()
		headersLog.push(`${n} ${req.method} ${req.url}` + shown.map((h) => ` ${h}=${req.headers[h]}`).join(''))
		const tok = /^fake-exp-(\d+)-/.exec(req.headers['x-amz-security-token'] || '')
		if (tok && arrived > Number(tok[1])) {
			note('400 expired')
			return s3Error(res, 400, 'ExpiredToken', 'The provided token has expired.')
		}
		const held = retention.get(url.pathname)
		if (req.method === 'DELETE' && !url.searchParams.has('uploadId') &&
		    ((held && Date.parse(held.until) > Date.now()) || noDelete)) {
			note('403 locked')
			return s3Error(res, 403, 'AccessDenied', 'Access Denied')
		}
		const askLock = req.headers['x-amz-object-lock-retain-until-date']
			? { mode: req.headers['x-amz-object-lock-mode'] || '', until: req.headers['x-amz-object-lock-retain-until-date'] }
			: null
		const isCold = coldMs >= 0 && (url.pathname.includes('/data/') ||
			['GLACIER', 'DEEP_ARCHIVE'].includes(classes.get(url.pathname)))
		if (isCold && req.method === 'POST' && url.searchParams.has('restore')) {
			const at = thawAt.get(url.pathname)
			if (at === undefined) {
				thawAt.set(url.pathname, Date.now() + coldMs)
				log.push(`${n} ${req.method} ${req.url} 202 cold`)
				res.writeHead(202, { 'Content-Length': 0 })
				return res.end()
			}
			if (Date.now() < at) {
				log.push(`${n} ${req.method} ${req.url} 409 cold`)
				return s3Error(res, 409, 'RestoreAlreadyInProgress', 'Object restore is already in progress')
			}
			log.push(`${n} ${req.method} ${req.url} 200 cold`)
			res.writeHead(200, { 'Content-Length': 0 })
			return res.end()
		}
		if (isCold && req.method === 'GET' && !(thawAt.has(url.pathname) && Date.now() >= thawAt.get(url.pathname))) {
			log.push(`${n} ${req.method} ${req.url} 403 cold`)
			return s3Error(res, 403, 'InvalidObjectState', 'The operation is not valid for the object\'s storage class')
		}
		const listDir = /^list-(loop|endless|empty|notoken)(?:-(.+))?$/.exec(fault)
		if (listDir && req.method === 'GET' && url.searchParams.get('list-type') === '2' &&
		    (!listDir[2] || (url.searchParams.get('prefix') || '').split('/').includes(listDir[2]))) {
			note(200)
			return listAnswer(res, url, fault)
		}
		const hugeDir = /^huge(chunked)?-(.+)$/.exec(fault)
		if (hugeDir && req.method === 'GET' && !url.searchParams.has('list-type') &&
		    url.pathname.split('/').slice(2).includes(hugeDir[2]))
			return hugeAnswer(req, res, n, fault)
		if (fault === '500') { note(500); return s3Error(res, 500, 'InternalError', 'Injected internal error.') }
		if (fault === '503') { note(503); return s3Error(res, 503, 'SlowDown', 'Please reduce your request rate.') }
		if (fault.startsWith('retryafter-')) {
			note(503)
			return s3Error(res, 503, 'SlowDown', 'Please reduce your request rate.', { 'Retry-After': fault.slice(11) })
		}
		if (fault === 'reset') { note('reset'); return req.socket.destroy() }
		if (fault === 'corrupt' && body.length > 0) {
			body = Buffer.from(body)
			body[body.length >> 1] ^= 0x40
		}
		const bad = integrityError(req, body)
		if (bad) { note(400); return s3Error(res, 400, bad[0], bad[1]) }
		const go = () => forward(req, body, (e, ures, ubody) => {
			if (e) { note('upstream-error'); return s3Error(res, 502, 'InternalError', String(e.message)) }
			note(ures.statusCode)
			if (fault === 'drop') return req.socket.destroy()
			const path = url.pathname
			if (ures.statusCode === 200 && req.method === 'PUT' && !url.searchParams.has('uploadId')) {
				if (askLock) retention.set(path, askLock)
			} else if (ures.statusCode === 200 && req.method === 'POST' && url.searchParams.has('uploads')) {
				if (askLock) pendingRetention.set(path, askLock)
			} else if (ures.statusCode === 200 && req.method === 'POST' && url.searchParams.has('uploadId')) {
				if (pendingRetention.has(path)) retention.set(path, pendingRetention.get(path))
				pendingRetention.delete(path)
			} else if (req.method === 'DELETE' && ures.statusCode < 300 && !url.searchParams.has('uploadId')) {
				retention.delete(path)
			}
			if (req.method === 'PUT' && ures.statusCode === 200 && !url.searchParams.has('uploadId')) {
				if (req.headers['x-amz-checksum-sha256']) checksums.set(path, req.headers['x-amz-checksum-sha256'])
				else checksums.delete(path)
				const cls = req.headers['x-amz-storage-class']
				if (cls && cls !== 'STANDARD') classes.set(path, cls)
				else classes.delete(path)
			} else if (req.method === 'DELETE' && !url.searchParams.has('uploadId')) {
				checksums.delete(path)
				classes.delete(path)
			}
			if (req.method === 'GET' && ures.statusCode === 200 && url.searchParams.get('list-type') === '2' && classes.size) {
				const bucket = path.split('/')[1]
				ubody = Buffer.from(ubody.toString('utf8').replace(/<Contents>([\s\S]*?)<\/Contents>/g, (all, inner) => {
					const k = /<Key>([^<]*)<\/Key>/.exec(inner)
					const cls = k && classes.get(`/${bucket}/${k[1].replace(/&amp;/g, '&')}`)
					return cls ? all.replace(/<StorageClass>[^<]*<\/StorageClass>/, `<StorageClass>${cls}</StorageClass>`) : all
				}), 'utf8')
			}
			if (ageShifts.length && req.method === 'GET' && url.searchParams.get('list-type') === '2' &&
			    ures.statusCode === 200) {
				ubody = Buffer.from(ubody.toString('utf8').replace(/<LastModified>([^<]*)<\/LastModified>/g, (all, t) => {
					const at = Date.parse(t)
					if (Number.isNaN(at)) return all
					let shift = 0
					for (const a of ageShifts) if (at <= a.cut) shift += a.ms
					return `<LastModified>${new Date(at - shift).toISOString()}</LastModified>`
				}), 'utf8')
			}
			const headers = answerHeaders(req, ures, ubody)
			if ((req.method === 'HEAD' || req.method === 'GET') && ures.statusCode < 300 && retention.has(path)) {
				headers['x-amz-object-lock-mode'] = retention.get(path).mode
				headers['x-amz-object-lock-retain-until-date'] = retention.get(path).until
			}
			if ((req.method === 'GET' || req.method === 'HEAD') && ures.statusCode === 200 && checksums.has(path) &&
			    (req.headers['x-amz-checksum-mode'] || '').toUpperCase() === 'ENABLED')
				headers['x-amz-checksum-sha256'] = checksums.get(path)
			if (fault === 'flip' && ubody.length > 0) {
				ubody = Buffer.from(ubody)
				ubody[ubody.length >> 1] ^= 0x01
			}
			res.writeHead(ures.statusCode, headers)
			if (fault === 'close' || fault.startsWith('stall-')) {
				const half = ubody.length >> 1
				res.write(ubody.subarray(0, half))
				if (fault === 'close') {
					// Let the half body leave, then drop the connection.
					setTimeout(() => req.socket.destroy(), 50)
					return
				}
				setTimeout(() => res.end(ubody.subarray(half)), Number(fault.slice(6)))
				return
			}
			res.end(ubody)
		})
		if (fault.startsWith('delay-')) setTimeout(go, Number(fault.slice(6)))
		else if (fault.startsWith('slowdata-') && req.method === 'PUT' && url.pathname.includes('/data/'))
			setTimeout(go, Number(fault.slice(9)))
		else go()
	})
})

server.listen(0, '127.0.0.1', () => {
	console.log(`faultproxy listening on 127.0.0.1:${server.address().port}`)
})
process.on('SIGTERM', () => process.exit(0))
