"""StatelessServer against real UDP datagrams on 127.0.0.1."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from asgiref.server import StatelessServer

pytestmark = pytest.mark.timeout(20)

Address = tuple[str, int]


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.datagrams: asyncio.Queue[tuple[bytes, Address]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.datagrams.put_nowait((data, addr))


class UdpChatServer(StatelessServer):
    """``JOIN name`` registers the sender; ``TO name text`` relays to that user.

    One application instance per user name; its scope holds the user's address.
    """

    def __init__(self, application: Any, max_applications: int = 1000) -> None:
        super().__init__(application, max_applications)
        self.inbox = _Inbox()
        self.transport: asyncio.DatagramTransport | None = None
        self.bound = asyncio.Event()

    async def handle(self) -> None:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: self.inbox, local_addr=("127.0.0.1", 0)
        )
        self.bound.set()
        try:
            while True:
                data, sender = await self.inbox.datagrams.get()
                command, _, rest = data.decode().partition(" ")
                if command == "JOIN":
                    scope = {"type": "udp-chat", "user": rest, "address": sender}
                    self.get_or_create_application_instance(rest, scope).put_nowait(
                        {"type": "welcome"}
                    )
                elif command == "TO":
                    name, _, text = rest.partition(" ")
                    details = self.application_instances.get(name)
                    if details is not None:
                        details["input_queue"].put_nowait({"type": "chat", "text": text})
                elif command == "QUIT":
                    return
        finally:
            self.transport.close()

    @property
    def address(self) -> Address:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return host, port

    async def application_send(self, scope: Any, message: Any) -> None:
        assert self.transport is not None
        self.transport.sendto(message["payload"], scope["address"])


async def user_session(scope: Any, receive: Any, send: Any) -> None:
    while True:
        event = await receive()
        if event["type"] == "welcome":
            await send({"payload": f"welcome {scope['user']}".encode()})
        else:
            await send({"payload": f"{scope['user']} got: {event['text']}".encode()})


class Client:
    def __init__(self, inbox: _Inbox, transport: asyncio.DatagramTransport) -> None:
        self.inbox = inbox
        self.transport = transport

    @classmethod
    async def connect(cls) -> Client:
        inbox = _Inbox()
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: inbox, local_addr=("127.0.0.1", 0)
        )
        return cls(inbox, transport)

    def send(self, server: Address, text: str) -> None:
        self.transport.sendto(text.encode(), server)

    async def receive(self) -> tuple[str, Address]:
        data, sender = await asyncio.wait_for(self.inbox.datagrams.get(), 5)
        return data.decode(), sender


async def test_udp_chat_relays_between_two_clients() -> None:
    server = UdpChatServer(user_session, max_applications=10)
    running = asyncio.ensure_future(server.arun())
    await asyncio.wait_for(server.bound.wait(), 5)
    alice, bob = await Client.connect(), await Client.connect()
    try:
        alice.send(server.address, "JOIN alice")
        assert await alice.receive() == ("welcome alice", server.address)
        bob.send(server.address, "JOIN bob")
        assert await bob.receive() == ("welcome bob", server.address)
        alice.send(server.address, "TO bob hello there")
        assert await bob.receive() == ("bob got: hello there", server.address)
        assert set(server.application_instances) == {"alice", "bob"}
        alice.send(server.address, "QUIT")
        await asyncio.wait_for(running, 5)
        assert server.application_instances == {}
    finally:
        alice.transport.close()
        bob.transport.close()
        if not running.done():
            running.cancel()


async def test_udp_registrations_beyond_the_limit_evict_old_users() -> None:
    server = UdpChatServer(user_session, max_applications=3)
    running = asyncio.ensure_future(server.arun())
    await asyncio.wait_for(server.bound.wait(), 5)
    client = await Client.connect()
    try:
        for number in range(8):
            client.send(server.address, f"JOIN user{number}")
            assert await client.receive() == (f"welcome user{number}", server.address)
            assert len(server.application_instances) <= 3
        assert list(server.application_instances) == ["user5", "user6", "user7"]
        client.send(server.address, "QUIT")
        await asyncio.wait_for(running, 5)
    finally:
        client.transport.close()
        if not running.done():
            running.cancel()
