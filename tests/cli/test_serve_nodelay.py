"""`receiptcore serve`'s listening socket hands out connections with TCP_NODELAY set.

Without it, Nagle's algorithm and the client's delayed ACK stall every keep-alive response written in two sends
by ~40 ms (docs/benchmarks.md). asyncio sets the option itself only for accepted sockets whose ``proto`` is TCP,
so this checks a connection accepted the way uvicorn accepts it (``loop.create_server(sock=...)``).
"""

from __future__ import annotations

import asyncio
import socket

from receiptcore.entrypoints.serve import bind_socket


async def accepted_connection_nodelay() -> int:
    """TCP_NODELAY of a connection accepted on a ``bind_socket`` listener by the running loop."""
    sock = bind_socket("127.0.0.1", 0)
    nodelay: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nodelay.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=sock)
    try:
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        try:
            return await asyncio.wait_for(nodelay, timeout=5)
        finally:
            writer.close()
    finally:
        server.close()
        await server.wait_closed()


async def test_accepted_connection_has_tcp_nodelay() -> None:
    assert await accepted_connection_nodelay() != 0
