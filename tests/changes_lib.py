"""changes_lib.py — helpers of tests/e2e_changes.sh (python3 -S, standard
library only).

  mutate DIR SEED N [nolink]
                        N random changes below DIR: write, append, create,
                        delete and rename files, make, remove and rename
                        directories, chmod, hard links (not with nolink:
                        a new link makes a journal's backup scan),
                        symlinks
  loop DIR SEED STOP [nolink]
                        mutate until the file STOP exists (a backup runs
                        meanwhile), then print how many changes it made
  manifest DIR          one line per entry below DIR: path, type, mode,
                        size, mtime (files and symlinks), content hash or
                        link target; hard links share a group number
  subtree FILE PATH     the subtree ID of directory PATH in `ls --json`
"""
import hashlib, json, os, random, stat, sys, time


def entries(root):
    files, dirs = [], []
    for d, ds, fs in os.walk(root):
        for n in ds:
            dirs.append(os.path.join(d, n))
        for n in fs:
            files.append(os.path.join(d, n))
    return files, dirs


def mutate(root, rnd, n, links=True):
    done = 0
    while done < n:
        files, dirs = entries(root)
        dirs_all = [root] + dirs
        op = rnd.choice(["write", "append", "create", "create", "delete", "rename", "mkdir",
                         "rmdir", "mvdir", "chmod", "link", "symlink", "truncate"])
        if op == "link" and not links:
            op = "chmod"
        try:
            if op == "create" or (op in ("write", "append", "delete", "rename", "chmod", "link", "truncate") and not files):
                d = rnd.choice(dirs_all)
                with open(os.path.join(d, "f%06d" % rnd.randrange(10**6)), "wb") as f:
                    f.write(os.urandom(rnd.randrange(0, 9000)))
            elif op == "write":
                p = rnd.choice(files)
                if os.path.islink(p):
                    continue
                with open(p, "r+b") as f:
                    f.seek(rnd.randrange(0, 4000))
                    f.write(os.urandom(rnd.randrange(1, 3000)))
            elif op == "append":
                p = rnd.choice(files)
                if os.path.islink(p):
                    continue
                with open(p, "ab") as f:
                    f.write(os.urandom(rnd.randrange(1, 5000)))
            elif op == "truncate":
                p = rnd.choice(files)
                if os.path.islink(p):
                    continue
                os.truncate(p, rnd.randrange(0, 100))
            elif op == "delete":
                os.unlink(rnd.choice(files))
            elif op == "rename":
                p = rnd.choice(files)
                os.rename(p, os.path.join(rnd.choice(dirs_all), "r%06d" % rnd.randrange(10**6)))
            elif op == "mkdir":
                d = os.path.join(rnd.choice(dirs_all), "d%05d" % rnd.randrange(10**5))
                os.mkdir(d)
                for i in range(rnd.randrange(0, 4)):
                    with open(os.path.join(d, "n%d" % i), "wb") as f:
                        f.write(os.urandom(rnd.randrange(0, 3000)))
            elif op == "rmdir":
                if not dirs:
                    continue
                d = rnd.choice(dirs)
                for sub, ds, fs in os.walk(d, topdown=False):
                    for x in fs:
                        os.unlink(os.path.join(sub, x))
                    for x in ds:
                        p = os.path.join(sub, x)
                        os.unlink(p) if os.path.islink(p) else os.rmdir(p)
                os.rmdir(d)
            elif op == "mvdir":
                if not dirs:
                    continue
                d = rnd.choice(dirs)
                to = rnd.choice(dirs_all)
                if to == d or to.startswith(d + "/"):
                    continue
                os.rename(d, os.path.join(to, "m%05d" % rnd.randrange(10**5)))
            elif op == "chmod":
                p = rnd.choice(files)
                if os.path.islink(p):
                    continue
                os.chmod(p, rnd.choice([0o600, 0o644, 0o640, 0o755]))
            elif op == "link":
                p = rnd.choice(files)
                if os.path.islink(p):
                    continue
                os.link(p, os.path.join(rnd.choice(dirs_all), "h%06d" % rnd.randrange(10**6)))
            elif op == "symlink":
                os.symlink("target-%d" % rnd.randrange(1000),
                           os.path.join(rnd.choice(dirs_all), "s%06d" % rnd.randrange(10**6)))
        except (FileExistsError, FileNotFoundError, IsADirectoryError, NotADirectoryError, OSError):
            continue
        done += 1
    return done


def manifest(root):
    out, inodes = [], {}
    for d, ds, fs in os.walk(root):
        ds.sort()
        for n in sorted(ds + fs):
            p = os.path.join(d, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out.append("%s L %s" % (rel, os.readlink(p)))
            elif stat.S_ISDIR(st.st_mode):
                out.append("%s D %o" % (rel, mode))
            else:
                with open(p, "rb") as f:
                    h = hashlib.sha256(f.read()).hexdigest()[:16]
                grp = ""
                if st.st_nlink > 1:
                    grp = " link%d" % inodes.setdefault(st.st_ino, len(inodes))
                out.append("%s F %o %d %d %s%s" % (rel, mode, st.st_size, st.st_mtime_ns, h, grp))
    return "\n".join(out) + "\n"


def main():
    cmd = sys.argv[1]
    if cmd == "mutate":
        mutate(sys.argv[2], random.Random(int(sys.argv[3])), int(sys.argv[4]), sys.argv[5:] != ["nolink"])
    elif cmd == "loop":
        rnd, n = random.Random(int(sys.argv[3])), 0
        while not os.path.exists(sys.argv[4]):
            n += mutate(sys.argv[2], rnd, 1, sys.argv[5:] != ["nolink"])
            time.sleep(0.002)
        print(n)
    elif cmd == "manifest":
        sys.stdout.write(manifest(sys.argv[2]))
    elif cmd == "subtree":
        want = sys.argv[3].strip("/")
        for line in open(sys.argv[2]):
            line = line.strip().rstrip(",")
            if not line.startswith("{"):
                continue
            e = json.loads(line)
            if e["path"] == want:
                print(e.get("subtree", ""))
                return
        print("none")


main()
