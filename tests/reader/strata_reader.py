#!/usr/bin/python3
"""strata_reader.py — an independent reader of strata repositories.

Written from store/FORMAT.md alone (no line of strata's C code was read
while writing it), as the proof that FORMAT.md is enough to read a
repository. It uses the Python 3 standard library plus libsodium and
libzstd through ctypes, so /usr/bin/python3 on a fresh Debian 12 with the
shared libraries runs it.

    strata_reader.py REPO snapshots                 JSON list like `strata snapshots --json`
    strata_reader.py REPO config                    the decrypted config (JSON)
    strata_reader.py REPO dump SNAPSHOT PATH [OUT]  one file's bytes to OUT or stdout
    strata_reader.py REPO restore SNAPSHOT DIR      every directory, file, symlink and FIFO
                                                    (content only: no modes, owners, times)
    strata_reader.py REPO ls SNAPSHOT               every node as JSON, like `strata ls --json`
    strata_reader.py REPO trees SNAPSHOT            one line per directory: parts bytes path
    strata_reader.py REPO chunks SNAPSHOT PATH      the file's chunk lengths, one per line
    strata_reader.py REPO verify-packs [--read-data]  every pack's trailer against the
                                                    index; and every blob opened
    strata_reader.py REPO rechunk FILE              FastCDC cut lengths (§13) of a local file
    strata_reader.py REPO frames                    one line per frame (§9a, format 3): pack
                                                    offset length then its members' IDs

The password comes from --password-file FILE, else $STRATA_PASSWORD_FILE,
else $STRATA_PASSWORD (one trailing newline of a file is dropped). SNAPSHOT
is "latest", a full ID or a unique hex prefix. PATH is the absolute path
as backed up (§11: the root tree mirrors absolute paths); it is taken as
bytes, so non-UTF-8 names work.

Every error is one line on stderr naming the object, and exit status 1.
Section numbers (§n) refer to store/FORMAT.md.
"""

import base64
import codecs
import ctypes
import ctypes.util
import datetime
import hashlib
import json
import os
import struct
import sys


class ReaderError(Exception):
    pass


codecs.register_error("strata_per_byte", lambda e: ("\ufffd" * (e.end - e.start), e.end))


# ---------------------------------------------------------------- libraries

def _load(names, sonames):
    for n in names:
        p = ctypes.util.find_library(n)
        if p:
            try:
                return ctypes.CDLL(p)
            except OSError:
                pass
    for s in sonames:
        try:
            return ctypes.CDLL(s)
        except OSError:
            pass
    raise ReaderError("cannot load %s (install %s)" % (sonames[0], names[0]))


_sodium = None
_zstd = None


def sodium():
    global _sodium
    if _sodium is None:
        lib = _load(["sodium"], ["libsodium.so.23", "libsodium.so.26", "libsodium.so"])
        if lib.sodium_init() < 0:
            raise ReaderError("sodium_init failed")
        u8p = ctypes.c_char_p
        ull = ctypes.c_ulonglong
        lib.crypto_pwhash.argtypes = [u8p, ull, u8p, ull, u8p, ull, ctypes.c_size_t, ctypes.c_int]
        lib.crypto_pwhash.restype = ctypes.c_int
        lib.crypto_pwhash_alg_argon2id13.restype = ctypes.c_int
        lib.crypto_aead_xchacha20poly1305_ietf_decrypt.argtypes = [
            u8p, ctypes.POINTER(ull), ctypes.c_void_p, u8p, ull, u8p, ull, u8p, u8p]
        lib.crypto_aead_xchacha20poly1305_ietf_decrypt.restype = ctypes.c_int
        lib.crypto_kdf_derive_from_key.argtypes = [u8p, ctypes.c_size_t, ctypes.c_uint64, u8p, u8p]
        lib.crypto_kdf_derive_from_key.restype = ctypes.c_int
        lib.crypto_stream_xchacha20.argtypes = [u8p, ull, u8p, u8p]
        lib.crypto_stream_xchacha20.restype = ctypes.c_int
        _sodium = lib
    return _sodium


def zstd():
    global _zstd
    if _zstd is None:
        lib = _load(["zstd"], ["libzstd.so.1", "libzstd.so"])
        lib.ZSTD_getFrameContentSize.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        lib.ZSTD_getFrameContentSize.restype = ctypes.c_ulonglong
        lib.ZSTD_findFrameCompressedSize.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        lib.ZSTD_findFrameCompressedSize.restype = ctypes.c_size_t
        lib.ZSTD_decompress.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
        lib.ZSTD_decompress.restype = ctypes.c_size_t
        lib.ZSTD_isError.argtypes = [ctypes.c_size_t]
        lib.ZSTD_isError.restype = ctypes.c_uint
        _zstd = lib
    return _zstd


_scratch = [None, 0]


def scratch(n):
    """A buffer of at least n bytes, reused: create_string_buffer makes a
    ctypes array type per distinct size (~80 us each), and a restore of
    tiny chunks asks for thousands of sizes."""
    if _scratch[1] < n:
        size = max(n, 1 << 16)
        _scratch[0], _scratch[1] = ctypes.create_string_buffer(size), size
    return _scratch[0]


def aead_open(key, nonce, sealed, ad, what):
    """§1 AEAD: XChaCha20-Poly1305-IETF, CIPHERTEXT || TAG (16)."""
    if len(sealed) < 16:
        raise ReaderError("%s: too short for an AEAD tag" % what)
    out = scratch(len(sealed) - 16 or 1)
    outlen = ctypes.c_ulonglong(0)
    rc = sodium().crypto_aead_xchacha20poly1305_ietf_decrypt(
        out, ctypes.byref(outlen), None, sealed, len(sealed), ad, len(ad), nonce, key)
    if rc != 0:
        raise ReaderError("%s: fails authentication" % what)
    return ctypes.string_at(out, outlen.value)


def kdf(master, subkey_id):
    """§4: crypto_kdf_derive_from_key(32, id, "strata01", master)."""
    out = ctypes.create_string_buffer(32)
    if sodium().crypto_kdf_derive_from_key(out, 32, subkey_id, b"strata01", master) != 0:
        raise ReaderError("key derivation failed")
    return out.raw


def zstd_frame(data, limit, what, expect=None):
    """One zstd frame holding its content size; the whole of `data`."""
    z = zstd()
    size = z.ZSTD_getFrameContentSize(data, len(data))
    if size >= 2**64 - 2:     # ZSTD_CONTENTSIZE_UNKNOWN / _ERROR
        raise ReaderError("%s: not a zstd frame with its content size" % what)
    if size > limit:
        raise ReaderError("%s: inflates to %d bytes, more than %d" % (what, size, limit))
    if expect is not None and size != expect:
        raise ReaderError("%s: zstd content size %d, wanted %d" % (what, size, expect))
    csize = z.ZSTD_findFrameCompressedSize(data, len(data))
    if z.ZSTD_isError(csize) or csize != len(data):
        raise ReaderError("%s: not exactly one zstd frame" % what)
    out = scratch(size or 1)
    n = z.ZSTD_decompress(out, size, data, len(data))
    if z.ZSTD_isError(n) or n != size:
        raise ReaderError("%s: zstd frame does not decompress" % what)
    return ctypes.string_at(out, size)


# ---------------------------------------------------------------- encodings

class Cursor:
    """Reads §1 integers from bytes; every overrun is an error naming `what`."""

    def __init__(self, data, what):
        self.d = data
        self.i = 0
        self.what = what

    def take(self, n):
        if n < 0 or self.i + n > len(self.d):
            raise ReaderError("%s: truncated at byte %d" % (self.what, self.i))
        b = self.d[self.i:self.i + n]
        self.i += n
        return b

    def u8(self):
        return self.take(1)[0]

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def u64(self):
        return struct.unpack("<Q", self.take(8))[0]

    def uvarint(self):
        v = 0
        for k in range(10):
            b = self.u8()
            if k == 9 and b > 1:
                raise ReaderError("%s: uvarint overflows 64 bits" % self.what)
            v |= (b & 0x7f) << (7 * k)
            if not b & 0x80:
                return v
        raise ReaderError("%s: uvarint longer than 10 bytes" % self.what)

    def svarint(self):
        v = self.uvarint()
        return (v >> 1) ^ -(v & 1)

    def done(self):
        return self.i == len(self.d)


def b64(s, what):
    try:
        return base64.b64decode(s, validate=True)
    except (ValueError, TypeError):
        raise ReaderError("%s: not base64" % what)


def jbytes(v, what):
    """§12: a string, or {"b64": ...} for bytes that are not UTF-8."""
    if isinstance(v, str):
        return v.encode()
    if isinstance(v, dict) and set(v) == {"b64"}:
        return b64(v["b64"], what)
    raise ReaderError("%s: neither a string nor {\"b64\": ...}" % what)


# ---------------------------------------------------------------- repository

SEALED_HEAD = 8 + 4 + 24


class Repo:
    KNOWN = {b"STRATACF": 3, b"STRATAIX": 1, b"STRATASN": 1, b"STRATATR": 1}

    def __init__(self, path, password):
        self.path = path
        raw = self.read("config")
        if len(raw) < SEALED_HEAD or raw[:8] != b"STRATACF":
            raise ReaderError("config: not a strata config (no STRATACF magic)")
        self.format = struct.unpack("<I", raw[8:12])[0]
        if self.format not in (1, 2, 3):
            raise ReaderError("config: repository format %d unknown to this reader" % self.format)
        self.master = self.open_key(password)
        self.id_key = kdf(self.master, 1)
        self.enc_key = kdf(self.master, 2)
        self.gear_seed = kdf(self.master, 3)
        self.config = json.loads(self.unseal(raw, b"STRATACF", "config"))
        if self.config.get("version") != self.format:
            raise ReaderError("config: version %r differs from its header's %d"
                              % (self.config.get("version"), self.format))
        if self.config.get("hash") != "blake2b-256-keyed":
            raise ReaderError("config: chunk hash %r unknown" % self.config.get("hash"))
        self._index = None
        self._packs_open = {}

    # -- files
    def read(self, rel):
        try:
            with open(os.path.join(self.path, rel), "rb") as f:
                return f.read()
        except OSError as e:
            raise ReaderError("%s: %s" % (rel, e.strerror))

    def name_hash(self, data):
        """§1 NAME: SHA-256 in format 2, BLAKE2b-256 in format 1."""
        if self.format >= 2:
            return hashlib.sha256(data).hexdigest()
        return hashlib.blake2b(data, digest_size=32).hexdigest()

    def read_named(self, rel, name):
        """A file whose name is NAME of its bytes (§3), checked."""
        data = self.read(rel)
        if self.name_hash(data) != name:
            raise ReaderError("%s: content does not match its name" % rel)
        return data

    def listdir(self, rel):
        try:
            return sorted(os.listdir(os.path.join(self.path, rel)))
        except FileNotFoundError:
            return []

    # -- §6 key file
    def open_key(self, password):
        names = [n for n in self.listdir("keys") if is_hex_id(n)]
        if not names:
            raise ReaderError("keys/: no key file")
        for n in names:
            k = json.loads(self.read_named("keys/" + n, n))
            what = "keys/" + n[:8]
            if k.get("version") != 1 or k.get("kdf") != "argon2id13":
                raise ReaderError("%s: unknown key file version or kdf" % what)
            salt = b64(k["salt"], what + " salt")
            data = b64(k["data"], what + " data")
            if len(salt) != 16 or len(data) != 24 + 32 + 16:
                raise ReaderError("%s: salt or data has the wrong length" % what)
            wrap = ctypes.create_string_buffer(32)
            s = sodium()
            rc = s.crypto_pwhash(wrap, 32, password, len(password), salt,
                                 int(k["opslimit"]), int(k["memlimit"]),
                                 s.crypto_pwhash_alg_argon2id13())
            if rc != 0:
                raise ReaderError("%s: Argon2id failed (out of memory?)" % what)
            try:
                return aead_open(wrap.raw, data[:24], data[24:], b"strata key v1", what)
            except ReaderError:
                continue
        raise ReaderError("wrong password (no key file opens with it)")

    # -- §5 sealed file
    def unseal(self, raw, magic, what):
        if len(raw) < SEALED_HEAD + 16 or raw[:8] != magic:
            raise ReaderError("%s: not a %s file" % (what, magic.decode()))
        version = struct.unpack("<I", raw[8:12])[0]
        if version == 0 or version > self.KNOWN[magic]:
            raise ReaderError("%s: version %d unknown; upgrade" % (what, version))
        return aead_open(self.enc_key, raw[12:36], raw[36:], raw[:12], what)

    # -- §12 snapshots
    def snapshots(self):
        out = []
        for n in self.listdir("snapshots"):
            if not is_hex_id(n):
                continue
            rel = "snapshots/" + n
            plain = self.unseal(self.read_named(rel, n), b"STRATASN", rel)
            # time_ns is above 2^53: Python's json keeps integers exact.
            sn = json.loads(plain)
            if sn.get("version") != 1:
                raise ReaderError("%s: snapshot version %r unknown" % (rel, sn.get("version")))
            for f in ("time_ns", "tree", "host", "paths"):
                if f not in sn:
                    raise ReaderError("%s: no %s" % (rel, f))
            if not isinstance(sn["time_ns"], int):
                raise ReaderError("%s: time_ns is not an integer" % rel)
            sn["id"] = n
            out.append(sn)
        out.sort(key=lambda s: (s["time_ns"], s["id"]))
        return out

    def snapshot(self, name):
        snaps = self.snapshots()
        if name == "latest":
            if not snaps:
                raise ReaderError("no snapshot")
            return snaps[-1]
        m = [s for s in snaps if s["id"].startswith(name.lower())]
        if len(m) != 1:
            raise ReaderError("snapshot %s: %s" % (name, "not found" if not m else "ambiguous"))
        return m[0]

    # -- §10 index
    def index(self):
        if self._index is not None:
            return self._index
        idx = {}
        self.packs = {}
        for n in self.listdir("index"):
            if not is_hex_id(n):
                continue
            rel = "index/" + n
            plain = self.unseal(self.read_named(rel, n), b"STRATAIX", rel)
            c = Cursor(zstd_frame(plain, 1 << 30, rel), rel)
            version = c.u8()
            # §9a: version 2 (format 3 only) lists frames and members.
            if version not in ((1, 2) if self.format >= 3 else (1,)):
                raise ReaderError("%s: content version unknown" % rel)
            for _ in range(c.u32()):
                pack = c.take(32).hex()
                kind = c.u8()
                if kind not in (0, 1):
                    raise ReaderError("%s: pack kind %d unknown" % (rel, kind))
                size = c.u64()
                entries = [read_entry(c, version) for _ in range(c.u32())]
                frame = None
                for (typ, cid, off, ln, raw) in entries:
                    if typ == 4:
                        if frame is None:
                            raise ReaderError("%s: member %s without a frame" % (rel, cid.hex()[:16]))
                        continue
                    if (typ in (0, 3)) != (kind == 0) or ln < 41 or off + ln > size:
                        raise ReaderError("%s: entry %s does not fit pack %s"
                                          % (rel, cid.hex()[:16], pack[:16]))
                    frame = (off, ln, raw) if typ == 3 else None
                self.packs[pack] = (kind, size, entries)
                frame = None
                for (typ, cid, off, ln, raw) in entries:
                    # A blob is (TYPE, ID): a data chunk may have a tree's
                    # ID. The first listing wins; every listing points at
                    # an authentic copy, since the blob's AEAD binds both.
                    # A frame member stands for the data blob of its ID,
                    # at its frame's place and its RAW_OFFSET in it (§9a).
                    if typ == 3:
                        frame = (off, ln, raw)
                    elif typ == 4:
                        idx.setdefault((0, cid), (pack, kind, 4, frame[0], frame[1], raw, frame[2], off))
                    else:
                        idx.setdefault((typ, cid), (pack, kind, typ, off, ln, raw))
            if not c.done():
                raise ReaderError("%s: bytes after the last pack" % rel)
        self._index = idx
        return idx

    def pack_path(self, pack, kind):
        return "%s/%s/%s" % ("data" if kind == 0 else "tree", pack[:2], pack)

    # -- §8 blob
    def blob(self, cid, want_type):
        e = self.index().get((want_type, cid))
        if e is None:
            raise ReaderError("chunk %s: no index file lists it as type %d" % (cid.hex()[:16], want_type))
        pack, kind, typ, off, ln, raw = e[:6]
        rel = self.pack_path(pack, kind)
        what = "%s blob %s" % (rel, cid.hex()[:16])
        try:
            # Packs stay open: a restore of tiny chunks reads tens of
            # thousands of blobs from a few packs.
            f = self._packs_open.get(rel)
            if f is None:
                if len(self._packs_open) >= 64:
                    for g in self._packs_open.values():
                        g.close()
                    self._packs_open.clear()
                f = self._packs_open[rel] = open(os.path.join(self.path, rel), "rb")
            f.seek(off)
            sealed = f.read(ln)
        except OSError as e:
            raise ReaderError("%s: %s" % (rel, e.strerror))
        if len(sealed) != ln:
            raise ReaderError("%s: truncated" % what)
        if typ == 4:
            frame_raw, member_off = e[6], e[7]
            members, p = self.open_frame(sealed, frame_raw, "%s frame at %d" % (rel, off))
            if (cid, member_off, raw) not in members:
                raise ReaderError("%s: its frame's HEADER does not list it at %d" % (what, member_off))
            data = p[member_off:member_off + raw]
            if hashlib.blake2b(data, digest_size=32, key=self.id_key).digest() != cid:
                raise ReaderError("%s: plaintext does not hash to its ID" % what)
            return data
        return self.open_blob(sealed, typ, cid, raw, what)

    def open_frame(self, sealed, frame_raw, what):
        """§9a: a blob of TYPE 3 and ID 0^32 whose plaintext is HEADER ||
        chunks; HEADER = 0x01 || M || (ID || RAW_LENGTH) * M. Returns the
        members as (ID, RAW_OFFSET, RAW_LENGTH) and the plaintext."""
        if frame_raw > 16 << 20:
            raise ReaderError("%s: not a frame" % what)
        p = self.unseal_blob(sealed, 3, bytes(32), frame_raw, what)
        if len(p) != frame_raw or len(p) < 2 or p[0] != 1 or p[1] < 1:
            raise ReaderError("%s: HEADER malformed" % what)
        m = p[1]
        pos = 2 + 36 * m
        members = []
        for k in range(m):
            h = p[2 + 36 * k:2 + 36 * (k + 1)]
            if len(h) != 36:
                raise ReaderError("%s: HEADER malformed" % what)
            ln = struct.unpack("<I", h[32:])[0]
            if ln < 1:
                raise ReaderError("%s: HEADER malformed" % what)
            members.append((h[:32], pos, ln))
            pos += ln
        if pos != len(p) or len(set(x[0] for x in members)) != m:
            raise ReaderError("%s: HEADER malformed" % what)
        return members, p

    def unseal_blob(self, sealed, typ, cid, raw, what):
        """§8: NONCE (24) || AEAD(enc_key, NONCE, CODEC || BODY, 0x01 || TYPE || ID),
        the plaintext (at most raw bytes once decompressed)."""
        if len(sealed) < 24 + 1 + 16:
            raise ReaderError("%s: too short for a blob" % what)
        plain = aead_open(self.enc_key, sealed[:24], sealed[24:],
                          bytes([1, typ]) + cid, what)
        codec, body = plain[0], plain[1:]
        if codec == 0:
            return body
        if codec == 1:
            return zstd_frame(body, raw, what, expect=raw)
        raise ReaderError("%s: codec %d unknown" % (what, codec))

    def open_blob(self, sealed, typ, cid, raw, what):
        data = self.unseal_blob(sealed, typ, cid, raw, what)
        if len(data) != raw:
            raise ReaderError("%s: %d bytes, index says %d" % (what, len(data), raw))
        if hashlib.blake2b(data, digest_size=32, key=self.id_key).digest() != cid:
            raise ReaderError("%s: plaintext does not hash to its ID" % what)
        return data

    # -- §11 trees
    def tree(self, tid):
        return parse_tree(self.tree_body(tid)[0], "tree %s" % tid.hex()[:16])

    def tree_body(self, tid):
        """TREE bytes of a tree object, and its number of parts (0: inline)."""
        obj = self.blob(tid, 1)
        what = "tree %s" % tid.hex()[:16]
        if not obj:
            raise ReaderError("%s: empty" % what)
        if obj[0] == 0:
            body, nparts = obj[1:], 0
        elif obj[0] == 1:
            c = Cursor(obj, what)
            c.u8()
            parts = []
            total = 0          # bytes of the parts so far
            for _ in range(c.uvarint()):
                pid = c.take(32)
                plen = c.uvarint()
                if total + plen > 1 << 31:
                    raise ReaderError("%s: larger than 2^31 bytes" % what)
                total += plen
                part = self.blob(pid, 2)
                if len(part) != plen:
                    raise ReaderError("%s: part %s has %d bytes, listed as %d"
                                      % (what, pid.hex()[:16], len(part), plen))
                parts.append(part)
            if not c.done():
                raise ReaderError("%s: bytes after the part list" % what)
            body, nparts = b"".join(parts), len(parts)
        else:
            raise ReaderError("%s: object form %d unknown" % (what, obj[0]))
        return body, nparts

    def lookup(self, snap, path):
        comps = [p for p in path.split(b"/") if p]
        node = {"type": 2, "subtree": bytes.fromhex(snap["tree"]), "name": b"/"}
        for comp in comps:
            if node["type"] != 2:
                raise ReaderError("%s: %s is not a directory" % (path.decode(errors="replace"),
                                                                 node["name"].decode(errors="replace")))
            for n in self.tree(node["subtree"]):
                if n["name"] == comp:
                    node = n
                    break
            else:
                raise ReaderError("%s: not in snapshot %s" % (path.decode(errors="replace"),
                                                              snap["id"][:8]))
        return node

    def file_chunks(self, node):
        for cid, clen in node["chunks"]:
            data = self.blob(cid, 0)
            if len(data) != clen:
                raise ReaderError("chunk %s: %d bytes, tree says %d" % (cid.hex()[:16], len(data), clen))
            yield data


def read_entry(c, version=1):
    """§9 ENTRY: TYPE (u8) || CHUNK_ID (32) || OFFSET || LENGTH || RAW_LENGTH (u32);
    entries version 2 (§9a) adds TYPE 3 (frame) and 4 (member)."""
    typ = c.u8()
    if typ not in ((0, 1, 2, 3, 4) if version == 2 else (0, 1, 2)):
        raise ReaderError("%s: blob type %d unknown" % (c.what, typ))
    cid = c.take(32)
    return (typ, cid, c.u32(), c.u32(), c.u32())


def parse_tree(body, what):
    c = Cursor(body, what)
    if c.u8() != 1:
        raise ReaderError("%s: tree version unknown" % what)
    nodes = []
    prev = None
    for _ in range(c.uvarint()):
        name = c.take(c.uvarint())
        if (not name or name in (b".", b"..") or b"/" in name or b"\0" in name
                or len(name) > 4096):
            raise ReaderError("%s: bad name %r" % (what, name))
        if prev is not None and name <= prev:
            raise ReaderError("%s: names not sorted or repeated at %r" % (what, name))
        prev = name
        n = {"name": name, "type": c.u8(), "mode": c.uvarint(), "uid": c.uvarint(),
             "gid": c.uvarint(), "mtime_ns": c.svarint(), "size": c.uvarint()}
        flags = c.u8()
        if flags & ~1:
            raise ReaderError("%s: reserved flag bits set on %r" % (what, name))
        if flags & 1:
            n["dev"], n["ino"], n["nlink"] = c.uvarint(), c.uvarint(), c.uvarint()
        t = n["type"]
        if t == 1:
            n["chunks"] = [(c.take(32), c.uvarint()) for _ in range(c.uvarint())]
            if sum(l for _, l in n["chunks"]) != n["size"]:
                raise ReaderError("%s: chunks of %r do not add up to its size" % (what, name))
        elif t == 2:
            n["subtree"] = c.take(32)
        elif t == 3:
            n["target"] = c.take(c.uvarint())
            if not 1 <= len(n["target"]) <= 65536 or b"\0" in n["target"]:
                raise ReaderError("%s: bad symlink target for %r" % (what, name))
        elif t in (4, 7):
            pass
        elif t in (5, 6):
            n["rdev"] = c.uvarint()
        else:
            raise ReaderError("%s: node type %d unknown" % (what, t))
        nodes.append(n)
    if not c.done():
        raise ReaderError("%s: bytes after the last node" % what)
    return nodes


def is_hex_id(n):
    return len(n) == 64 and all(ch in "0123456789abcdef" for ch in n)


# ---------------------------------------------------------------- §13 chunker

def gear_table(gear_seed):
    ks = ctypes.create_string_buffer(2048)
    sodium().crypto_stream_xchacha20(ks, 2048, bytes(24), gear_seed)
    return struct.unpack("<256Q", ks.raw)


def top_mask(bits):
    return ((1 << bits) - 1) << (64 - bits)


def fastcdc_cuts(data, gear, mn, avg, mx):
    """Chunk lengths by §13's loop: fp starts at 0 with the byte at offset
    MIN of each chunk, a byte at offset i whose fp matches ends a chunk of
    i + 1 bytes, MASK_S for i < AVG and MASK_L from there to MAX. (Written
    blind, FORMAT.md left the first two open; this variant was found by
    trying the candidates against a repository with MIN 64, where they
    differ, and FORMAT.md now states it.)"""
    lg = avg.bit_length() - 1
    mask_s, mask_l = top_mask(lg + 2), top_mask(lg - 2)
    M = (1 << 64) - 1
    out = []
    start, n = 0, len(data)
    while start < n:
        left = n - start
        if left <= mn:
            out.append(left)
            break
        end = min(left, mx)
        fp = 0
        cut = end
        for i in range(mn, end):
            fp = ((fp << 1) + gear[data[start + i]]) & M
            if fp & (mask_s if i < avg else mask_l) == 0:
                cut = i + 1
                break
        out.append(cut)
        start += cut
    return out


# ---------------------------------------------------------------- commands

def fmt_time(ns):
    t = datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % (ns % 10**9)


def snapshot_json(s):
    labels = {}
    for lab in s.get("labels", []):
        k, _, v = (lab if isinstance(lab, str) else "").partition("=")
        labels[k] = v
    return {"id": s["id"], "short_id": s["id"][:8], "time": fmt_time(s["time_ns"]),
            "time_ns": s["time_ns"], "host": s["host"], "user": s.get("user"),
            "paths": s["paths"], "tags": s.get("tags", []), "labels": labels,
            "tree": s["tree"], "parent": s.get("parent")}


def cmd_restore(repo, snap, target):
    def walk(tid, dirpath):
        for n in repo.tree(tid):
            p = os.path.join(dirpath, n["name"])
            if n["type"] == 2:
                os.mkdir(p)
                walk(n["subtree"], p)
            elif n["type"] == 1:
                with open(p, "wb") as f:
                    for d in repo.file_chunks(n):
                        f.write(d)
            elif n["type"] == 3:
                os.symlink(n["target"], p)
            elif n["type"] == 4:
                os.mkfifo(p)
    os.makedirs(target, exist_ok=True)
    walk(bytes.fromhex(snap["tree"]), os.fsencode(target))


TYPE_NAMES = {1: "file", 2: "dir", 3: "symlink", 4: "fifo", 5: "chardev", 6: "blockdev", 7: "socket"}


def cmd_ls(repo, snap):
    """A JSON array like `strata ls --json`: the fields the tree holds."""
    out = []

    def text(b, obj, field):
        # tools/cli/doc/JSON.md: U+FFFD for each byte that is not UTF-8, the bytes in _hex.
        obj[field] = b.decode(errors="strata_per_byte")
        if obj[field].encode(errors="surrogatepass") != b:
            obj[field + "_hex"] = b.hex()

    def walk(tid, prefix):
        for n in repo.tree(tid):
            p = prefix + n["name"]
            o = {"type": TYPE_NAMES[n["type"]], "mode": n["mode"], "size": n["size"],
                 "mtime": fmt_time(n["mtime_ns"]), "uid": n["uid"], "gid": n["gid"]}
            text(p, o, "path")
            if n["type"] == 1:
                o["chunks"] = len(n["chunks"])
            elif n["type"] == 2:
                o["subtree"] = n["subtree"].hex()
            elif n["type"] == 3:
                text(n["target"], o, "link_target")
            out.append(o)
            if n["type"] == 2:
                walk(n["subtree"], p + b"/")
    walk(bytes.fromhex(snap["tree"]), b"")
    print(json.dumps(out, indent=1))


def cmd_trees(repo, snap, out):
    """One line per directory: number of parts (0: inline), TREE bytes, path."""
    def walk(tid, path):
        body, nparts = repo.tree_body(tid)
        out.write(b"%d %d %s\n" % (nparts, len(body), path or b"/"))
        for n in parse_tree(body, "tree %s" % tid.hex()[:16]):
            if n["type"] == 2:
                walk(n["subtree"], path + b"/" + n["name"])
    walk(bytes.fromhex(snap["tree"]), b"")


def cmd_verify_packs(repo, read_data):
    """§9: each pack's footer and trailer, entries end to end, equal to the
    index; with read_data also every blob opened and its ID checked (§8)."""
    repo.index()
    for pack, (kind, size, entries) in sorted(repo.packs.items()):
        rel = repo.pack_path(pack, kind)
        data = repo.read(rel)
        if len(data) != size:
            raise ReaderError("%s: %d bytes, index says %d" % (rel, len(data), size))
        if len(data) < 12 or data[-8:] != b"STRATAPK":
            raise ReaderError("%s: no STRATAPK footer" % rel)
        tlen = struct.unpack("<I", data[-12:-8])[0]
        tstart = len(data) - 12 - tlen
        if tstart < 0:
            raise ReaderError("%s: trailer length beyond the file" % rel)
        c = Cursor(repo.unseal(data[tstart:-12], b"STRATATR", rel + " trailer"), rel + " trailer")
        version = c.u8()
        if version not in ((1, 2) if repo.format >= 3 else (1,)):
            raise ReaderError("%s: trailer entries version unknown" % rel)
        tent = [read_entry(c, version) for _ in range(c.u32())]
        if not c.done():
            raise ReaderError("%s: bytes after the trailer's entries" % rel)
        off = 0
        for (typ, _, o, ln, _) in tent:
            if typ == 4:
                continue      # a member occupies no pack bytes (§9a)
            if o != off:
                raise ReaderError("%s: entries not end to end" % rel)
            off += ln
        if (version == 2) != any(t[0] == 3 for t in tent):
            raise ReaderError("%s: entries version %d with%s a frame" % (rel, version, "out" if version == 2 else ""))
        if off != tstart:
            raise ReaderError("%s: entries end at %d, trailer starts at %d" % (rel, off, tstart))
        if tent != entries:
            raise ReaderError("%s: trailer differs from the index file" % rel)
        for i, (typ, cid, o, ln, raw) in enumerate(tent):
            want = (0, 3, 4) if kind == 0 else (1, 2)
            if typ not in want:
                raise ReaderError("%s: blob type %d in a %s pack" % (rel, typ, "data" if kind == 0 else "tree"))
            if typ == 3:
                mem = []
                for t in tent[i + 1:]:
                    if t[0] != 4:
                        break
                    mem.append((t[1], t[2], t[4]))
                if not mem:
                    raise ReaderError("%s: frame at %d without members" % (rel, o))
                if read_data:
                    what = "%s frame at %d" % (rel, o)
                    members, p = repo.open_frame(data[o:o + ln], raw, what)
                    if members != mem:
                        raise ReaderError("%s: HEADER differs from the trailer's members" % what)
                    for (cid2, mo, ml) in members:
                        if hashlib.blake2b(p[mo:mo + ml], digest_size=32, key=repo.id_key).digest() != cid2:
                            raise ReaderError("%s: member %s does not hash to its ID" % (what, cid2.hex()[:16]))
            elif read_data and typ != 4:
                repo.open_blob(data[o:o + ln], typ, cid, raw, "%s blob %s" % (rel, cid.hex()[:16]))
        if repo.name_hash(data) != pack:
            raise ReaderError("%s: content does not match its name" % rel)
    print("%d packs verified" % len(repo.packs))


def password_from(args):
    f = None
    if "--password-file" in args:
        i = args.index("--password-file")
        f = args[i + 1]
        del args[i:i + 2]
    f = f or os.environ.get("STRATA_PASSWORD_FILE")
    if f:
        with open(f, "rb") as fh:
            pw = fh.read()
        return pw[:-1] if pw.endswith(b"\n") else pw
    if "STRATA_PASSWORD" in os.environ:
        return os.environb[b"STRATA_PASSWORD"]
    raise ReaderError("no password: give --password-file FILE or set STRATA_PASSWORD_FILE")


def main(argv):
    args = list(argv[1:])
    try:
        pw = password_from(args)
        if len(args) < 2:
            sys.stderr.write(__doc__)
            return 2
        repo = Repo(args[0], pw)
        cmd, rest = args[1], args[2:]
        out = sys.stdout.buffer
        if cmd == "config":
            print(json.dumps(repo.config, indent=2, sort_keys=True))
        elif cmd == "snapshots":
            print(json.dumps([snapshot_json(s) for s in repo.snapshots()], indent=2))
        elif cmd == "dump" and len(rest) in (2, 3):
            node = repo.lookup(repo.snapshot(rest[0]), os.fsencode(rest[1]))
            if node["type"] != 1:
                raise ReaderError("%s: not a regular file" % rest[1])
            dst = open(rest[2], "wb") if len(rest) == 3 else out
            for d in repo.file_chunks(node):
                dst.write(d)
            dst.flush()
        elif cmd == "chunks" and len(rest) == 2:
            node = repo.lookup(repo.snapshot(rest[0]), os.fsencode(rest[1]))
            for _, ln in node.get("chunks", []):
                print(ln)
        elif cmd == "restore" and len(rest) == 2:
            cmd_restore(repo, repo.snapshot(rest[0]), rest[1])
        elif cmd == "ls" and len(rest) == 1:
            cmd_ls(repo, repo.snapshot(rest[0]))
        elif cmd == "trees" and len(rest) == 1:
            cmd_trees(repo, repo.snapshot(rest[0]), out)
        elif cmd == "verify-packs" and rest in ([], ["--read-data"]):
            cmd_verify_packs(repo, bool(rest))
        elif cmd == "frames" and not rest:
            repo.index()
            for pack, (kind, size, entries) in sorted(repo.packs.items()):
                for i, (typ, cid, o, ln, raw) in enumerate(entries):
                    if typ != 3:
                        continue
                    ids = []
                    for t in entries[i + 1:]:
                        if t[0] != 4:
                            break
                        ids.append(t[1].hex())
                    print("%s %d %d %s" % (pack, o, ln, " ".join(ids)))
        elif cmd == "rechunk" and len(rest) == 1:
            ch = repo.config["chunker"]
            if ch.get("algorithm") != "fastcdc-normalized-2":
                raise ReaderError("config: chunker %r unknown" % ch.get("algorithm"))
            with open(rest[0], "rb") as f:
                data = f.read()
            for ln in fastcdc_cuts(data, gear_table(repo.gear_seed), ch["min"], ch["avg"], ch["max"]):
                print(ln)
        else:
            sys.stderr.write(__doc__)
            return 2
    except ReaderError as e:
        sys.stderr.write("strata_reader: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
