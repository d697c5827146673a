"""A round-robin TCP proxy on 127.0.0.1, run as its own process by the soak, in front of the API
replicas: each new connection goes to the next replica, and to the one after when that refuses
(a replica being restarted), as an nginx upstream with passive health checks would.

Why a proxy rather than clients spread over the replicas: the sandbox issuer, the devnet's
payers and the merchants' checkout links know ONE base URL (the sandbox's --callback-url,
PUBLIC_BASE_URL), as in production behind a load balancer; a killed replica then costs only
the connections it held. TCP, not HTTP: a keep-alive connection stays on its replica, and a
request cut by a kill is the client's connection error, never an answer made up here.

    python bench/soak/proxy.py --port 9000 --upstream 9001 --upstream 9002
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import signal

CHUNK = 65536


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def serve(port: int, upstreams: list[int]) -> None:
    turn = itertools.cycle(range(len(upstreams)))

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        first = next(turn)
        for n in range(len(upstreams)):
            upstream = upstreams[(first + n) % len(upstreams)]
            try:
                up_r, up_w = await asyncio.open_connection("127.0.0.1", upstream)
                break
            except OSError:
                continue
        else:  # every replica down: the client sees its connection closed
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, up_w), _pipe(up_r, client_w))

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", type=int, action="append", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.upstream))


if __name__ == "__main__":
    main()
