# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A loopback TCP proxy that adds a fixed delay to every request, to imitate a distant server.

The sandbox answers in a few milliseconds on 127.0.0.1; Atlassian's API is tens to hundreds of
milliseconds away. Every chunk a client sends is held for DELAY_MS before it is passed on
(answers go back at once), so each HTTP round trip takes DELAY_MS longer, on keep-alive
connections too, while the server's own work stays what it is.

    python benchmarks/latency_proxy.py TARGET_PORT DELAY_MS

Listens on 127.0.0.1 (a free port), prints {"port": PORT} once it listens, and runs until
SIGTERM or SIGINT. Standard library only.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

HOST = "127.0.0.1"


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy reader to writer; with a delay, each chunk leaves ``delay`` s after it arrived, in order."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def forward() -> None:
        while True:
            due, chunk = await queue.get()
            if not chunk:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()

    sender = asyncio.create_task(forward()) if delay else None
    try:
        while chunk := await reader.read(65536):
            if sender is None:
                writer.write(chunk)
                await writer.drain()
            else:
                queue.put_nowait((loop.time() + delay, chunk))
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        if sender is not None:
            queue.put_nowait((0.0, b""))
            try:
                await sender
            except ConnectionError:
                pass
        try:
            writer.close()
        except RuntimeError:
            pass


async def main(target_port: int, delay_ms: float) -> None:
    delay = delay_ms / 1000

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(HOST, target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer, delay), pipe(server_reader, client_writer, 0.0))

    server = await asyncio.start_server(handle, HOST, 0)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
