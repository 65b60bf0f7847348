# json_server.py DIR PID — one Python per e2e script for the JSON helpers
# of tests/e2e_lib.sh (json, json_in): a python3 start costs ~0.05 s of CPU
# and the scripts call the helpers thousands of times in a run.
#
# A request: the caller (holding DIR/lock) writes DIR/file (the JSON
# document's absolute path), DIR/expr (the Python expression) and DIR/cwd,
# then a line "KIND SEQ" to the FIFO DIR/in (SEQ numbers the request);
# the answer is the expression's value printed to DIR/out, what a one-off
# `python3 -c` would have printed to standard error to DIR/err, and
# "SEQ STATUS" (its exit status) as a line on the FIFO DIR/back. Each
# request evaluates in fresh globals (json, sys, d), as the
# one-off python did. The server leaves when the script (PID) has exited or
# DIR is gone; it runs in its own session, so that a test signalling its
# process group does not stop it. With E2E_EXTRA_CPU set (tests/run.sh), it
# keeps its CPU seconds so far in that file.
import builtins
import contextlib
import io
import json
import os
import select
import sys
import traceback

D, PID = sys.argv[1], int(sys.argv[2])


def alive():
    try:
        os.kill(PID, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return os.path.isdir(D)


def read(name):
    with open(os.path.join(D, name), encoding='utf-8', errors='surrogateescape') as f:
        return f.read()


def answer(kind):
    out, err = io.StringIO(), io.StringIO()
    status = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                os.chdir(read('cwd'))
            except OSError:
                pass
            expr = read('expr')
            try:
                with open(read('file')) as f:
                    if kind == 'file':
                        try:
                            d = json.load(f)
                        except ValueError as e:
                            sys.exit('not one JSON document: %s' % e)
                    else:
                        d = json.load(f)
            finally:
                if kind == 'stdin':
                    os.unlink(read('file'))
            g = {'__builtins__': builtins, '__name__': '__main__',
                 'json': json, 'sys': sys, 'd': d}
            if kind == 'file':
                print(eval(expr, g))           # json(): print(eval(EXPR))
            else:
                # json_in(): EXPR pasted into print(...), so "a, b" prints
                # "a b" as the one-off python -c "...print(EXPR)" did
                exec(compile('print(%s)' % expr, '<string>', 'exec'), g)
    except SystemExit as e:
        code = e.code
        if code is None:
            status = 0
        elif isinstance(code, int):
            status = code
        else:
            print(code, file=err)
            status = 1
    except BaseException:
        # As the interpreter reports an uncaught exception: traceback, status 1.
        err.write(traceback.format_exc())
        status = 1
    try:
        for name, text in (('out', out.getvalue()), ('err', err.getvalue())):
            with open(os.path.join(D, name), 'w', encoding='utf-8', errors='surrogateescape') as f:
                f.write(text)
    except OSError:
        status = 1
    return status


def account():
    # Its CPU so far, for tests/run.sh (E2E_EXTRA_CPU): this process is not
    # the script's child, so the script's own CPU figure leaves it out.
    path = os.environ.get('E2E_EXTRA_CPU')
    if not path:
        return
    t = os.times()
    try:
        with open(path + '.tmp', 'w') as f:
            f.write('%.3f\n' % (t.user + t.system))
        os.rename(path + '.tmp', path)
    except OSError:
        pass


def main():
    os.setsid()
    fd = os.open(os.path.join(D, 'in'), os.O_RDWR)   # never sees EOF
    with open(os.path.join(D, 'pid.tmp'), 'w') as f:
        f.write('%d\n' % os.getpid())
    os.rename(os.path.join(D, 'pid.tmp'), os.path.join(D, 'pid'))
    buf = b''
    while True:
        r, _, _ = select.select([fd], [], [], 1.0)
        if not r:
            if not alive():
                return
            continue
        chunk = os.read(fd, 4096)
        buf += chunk
        while b'\n' in buf:
            line, buf = buf.split(b'\n', 1)
            kind, _, seq = line.decode().partition(' ')
            status = answer(kind)
            account()
            try:
                with open(os.path.join(D, 'back'), 'w') as f:
                    f.write('%s %d\n' % (seq, status))
            except OSError:
                if not alive():
                    return


main()
