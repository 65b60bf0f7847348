# Sources of tests/golden/format-v2 (deterministic).
import os, random
r = random.Random(20261207)
os.makedirs("src/sub", exist_ok=True)
words = "chunk frame pack index tree snapshot blob nonce key zstd prune check restore backup".split()
with open("src/text.txt", "w") as f:
    f.write(" ".join(r.choice(words) for _ in range(40000)) + "\n")      # ~280 KB, several chunks
with open("src/random.bin", "wb") as f:
    f.write(bytes(r.getrandbits(8) for _ in range(50000)))                # stored raw (CODEC 0)
open("src/empty", "wb").close()
with open("src/sub/small.txt", "w") as f:
    f.write("under 64 bytes: never compressed\n")
os.symlink("text.txt", "src/link")
# a PostgreSQL data directory: relation files cut in 16 KiB page runs (§13a)
os.makedirs("src/pg/base/16384", exist_ok=True)
with open("src/pg/PG_VERSION", "w") as f:
    f.write("15\n")
with open("src/pg/base/16384/2619", "wb") as f:
    for page in range(6):
        hdr = bytes([page]) * 24
        rows = b"".join(b"row %05d of page %d|" % (i, page) for i in range(300))
        f.write((hdr + rows).ljust(8192, b"\0")[:8192])
