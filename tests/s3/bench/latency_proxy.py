#!/usr/bin/env python3
"""latency_proxy.py — a TCP proxy that adds a fixed one-way delay.

    python3 latency_proxy.py LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS

Listens on 127.0.0.1:LISTEN_PORT (0: any free port; the chosen one is
printed as "listening on 127.0.0.1:PORT") and forwards every connection to
TARGET_HOST:TARGET_PORT. Each chunk read in either direction is written
DELAY_MS later, in order, so a connection sees a round trip of about
2 x DELAY_MS on top of the server's own time (what a client in the same
region as its object store sees: 10-30 ms), while bandwidth is not
limited. For tools/dev/bench_s3.sh only: no netem needed (the kernel may lack
sch_netem), nothing outside this process is touched.
"""
import asyncio
import sys
import time

CHUNK = 256 * 1024


async def pump(reader, writer, delay):
    q = asyncio.Queue()

    async def sender():
        while True:
            due, data = await q.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass

    task = asyncio.ensure_future(sender())
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            q.put_nowait((time.monotonic() + delay, data))
    except (ConnectionError, OSError):
        pass
    q.put_nowait((0, None))
    try:
        await task
    except (ConnectionError, OSError):
        pass


async def handle(cr, cw, host, port, delay):
    try:
        sr, sw = await asyncio.open_connection(host, port)
    except OSError:
        cw.close()
        return
    await asyncio.gather(pump(cr, sw, delay), pump(sr, cw, delay), return_exceptions=True)
    for w in (cw, sw):
        try:
            w.close()
        except OSError:
            pass


async def main():
    listen, host, port, delay_ms = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    delay = delay_ms / 1000.0
    server = await asyncio.start_server(lambda r, w: handle(r, w, host, port, delay), "127.0.0.1", listen)
    print(f"listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
