"""The HL7 v2 listener (MLLP over TCP): frames in, acknowledgements out.

Framing is `0x0B payload 0x1C 0x0D`. Reads may split a frame anywhere or carry several
frames; bytes outside frames are ignored (and logged). Each frame goes to the inbound
sink, which stores it before anything else; only then is the ACK written:

* ``AA`` – stored and processed (or stored, and a failure of ours is left to the
  information office, who reprocess it);
* ``AE`` – stored, but its content cannot be used as sent (unknown patient, unmapped
  item, not HL7 …); the error is kept with the message and shown in MSA-3/ERR;
* ``AR`` – send it again later: nothing was stored (database unavailable, frame over
  the size limit), or it was stored but could not be processed (the resend is
  recognised by its MSH-10, not stored twice, and processed then).

A frame that is not HL7 at all is stored too (status ERROR/PARSE_ERROR) and answered
AE with a generated control id in MSA-2. MSA-2 otherwise echoes MSH-10.

The listener is an adapter: it knows MLLP and ACK codes, the sink
(`domain.inbound.service.InboundProcessor`) knows what storing and processing mean.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from domain.inbound.service import Receipt
from integrations.lis import hl7

log = logging.getLogger(__name__)

START_BLOCK = 0x0B
END_BLOCK = 0x1C
CARRIAGE_RETURN = 0x0D
MAX_FRAME_BYTES = 1024 * 1024
IDLE_TIMEOUT_S = 600.0
MAX_CONNECTIONS = 64
_READ_SIZE = 64 * 1024
_HEAD_BYTES = 4096  # kept of an oversized frame, to answer with its MSH-10


def frame(payload: bytes) -> bytes:
    """One MLLP frame."""
    return bytes([START_BLOCK]) + payload + bytes([END_BLOCK, CARRIAGE_RETURN])


@dataclass(frozen=True)
class Frame:
    payload: bytes


@dataclass(frozen=True)
class Oversized:
    head: bytes  # the first bytes of the frame
    size: int


@dataclass(frozen=True)
class Stray:
    count: int  # bytes outside any frame


FrameEvent = Frame | Oversized | Stray


@dataclass
class FrameDecoder:
    """Incremental MLLP decoder: feed it whatever a read returned, get whole frames back."""

    max_frame_bytes: int = MAX_FRAME_BYTES
    _buffer: bytearray = field(default_factory=bytearray)
    _inside: bool = False
    _oversized: bool = False
    _size: int = 0
    _after_end: bool = False  # a 0x1C was seen: one 0x0D after it belongs to the frame

    def feed(self, data: bytes) -> list[FrameEvent]:
        events: list[FrameEvent] = []
        stray = 0
        i = 0
        while i < len(data):
            if not self._inside:
                if self._after_end:
                    self._after_end = False
                    if data[i] == CARRIAGE_RETURN:
                        i += 1
                        continue
                start = data.find(START_BLOCK, i)
                if start < 0:
                    stray += len(data) - i
                    break
                stray += start - i
                self._begin()
                i = start + 1
                continue
            end = data.find(END_BLOCK, i)
            restart = data.find(START_BLOCK, i, end if end >= 0 else len(data))
            if restart >= 0:
                # A new start block inside a frame: the sender gave up on the previous one.
                stray += self._size + (restart - i)
                log.warning("MLLP frame abandoned by the sender: a new start block arrived")
                self._begin()
                i = restart + 1
                continue
            chunk_end = end if end >= 0 else len(data)
            self._append(data[i:chunk_end])
            if end < 0:
                break
            events.append(self._finish())
            i = end + 1
        if stray:
            events.append(Stray(stray))
        return events

    def _begin(self) -> None:
        self._inside = True
        self._oversized = False
        self._size = 0
        self._buffer = bytearray()

    def _append(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._oversized:
            return
        if self._size > self.max_frame_bytes:
            self._oversized = True
            keep = _HEAD_BYTES - len(self._buffer)
            if keep > 0:
                self._buffer += chunk[:keep]
            del self._buffer[_HEAD_BYTES:]
            return
        self._buffer += chunk

    def _finish(self) -> FrameEvent:
        self._inside = False
        self._after_end = True
        payload = bytes(self._buffer)
        self._buffer = bytearray()
        if self._oversized:
            return Oversized(payload, self._size)
        return Frame(payload)


class InboundSink(Protocol):
    """Stores a received message, processes it and says what happened."""

    async def receive(self, raw: bytes) -> Receipt: ...


def new_control_id() -> str:
    return "MH" + uuid.uuid4().hex[:18].upper()


def _ack(
    received: hl7.Message | None,
    code: str,
    acknowledged_id: str,
    text: str,
    errors: Sequence[hl7.Hl7Error] = (),
) -> bytes:
    message = hl7.build_ack(
        received,
        code,
        control_id=new_control_id(),
        acknowledged_id=acknowledged_id,
        text=text,
        errors=errors,
        now=dt.datetime.now(dt.UTC),
    )
    return message.encode("utf-8")


def answer(payload: bytes, receipt: Receipt) -> bytes:
    """The ACK for a frame, from what the sink did with it."""
    received, _ = hl7.parse_bytes(payload)
    message = received if received.is_hl7 else None
    control_id = receipt.message_id or hl7.read_header(received).control_id or new_control_id()
    if receipt.retry_later:
        return _ack(message, "AR", control_id, receipt.detail or "暂时无法接收，请稍后重发")
    if receipt.content_error:
        errors = [
            hl7.Hl7Error(str(e["field"]), str(e["message"]), str(e.get("code") or ""))
            for e in receipt.error_fields
        ]
        return _ack(message, "AE", control_id, receipt.detail or "", errors)
    return _ack(message, "AA", control_id, receipt.detail or "")


def answer_oversized(event: Oversized, max_frame_bytes: int) -> bytes:
    received, _ = hl7.parse_bytes(event.head)
    message = received if received.is_hl7 else None
    header = hl7.read_header(received)
    text = (
        f"消息大小 {event.size} 字节，超过上限 {max_frame_bytes} 字节，未保存；"
        "请拆分后重发或联系信息科调整上限"
    )
    return _ack(message, "AR", header.control_id or new_control_id(), text)


class MllpListener:
    """An asyncio MLLP server; `port=0` binds an ephemeral port (read it from `.port`)."""

    def __init__(
        self,
        sink: InboundSink,
        *,
        host: str = "127.0.0.1",
        port: int = 2575,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.sink = sink
        self.host = host
        self.requested_port = port
        self.max_frame_bytes = max_frame_bytes
        self.idle_timeout_s = idle_timeout_s
        self.max_connections = max_connections
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._busy: set[asyncio.Task[Any]] = set()
        self._stopping = False

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("MLLP listener is not running")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._stopping = False
        self._server = await asyncio.start_server(self._accept, self.host, self.requested_port)
        log.info("MLLP listener started", extra={"host": self.host, "port": self.port})

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop accepting and close connections; a frame being handled is answered first."""
        if self._server is None:
            return
        self._stopping = True
        self._server.close()
        for task in self._connections - self._busy:
            task.cancel()  # waiting for data: nothing is lost
        tasks = list(self._connections)
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None
        log.info("MLLP listener stopped")

    async def __aenter__(self) -> MllpListener:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername"))
        task = asyncio.current_task()
        if task is None or self._stopping or len(self._connections) >= self.max_connections:
            log.warning("MLLP connection refused", extra={"peer": peer, "stopping": self._stopping})
            await _close(writer)
            return
        self._connections.add(task)
        try:
            await self._serve(task, reader, writer, peer)
        except asyncio.CancelledError:
            pass
        except (ConnectionError, OSError) as exc:
            log.info("MLLP connection lost", extra={"peer": peer, "error": type(exc).__name__})
        finally:
            self._connections.discard(task)
            await _close(writer)

    async def _serve(
        self,
        task: asyncio.Task[Any],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: str,
    ) -> None:
        decoder = FrameDecoder(self.max_frame_bytes)
        while not self._stopping:
            try:
                async with asyncio.timeout(self.idle_timeout_s):
                    data = await reader.read(_READ_SIZE)
            except TimeoutError:
                log.info("MLLP connection idle, closed", extra={"peer": peer})
                return
            if not data:
                return
            self._busy.add(task)
            try:
                for event in decoder.feed(data):
                    reply = await self._reply(event, peer)
                    if reply is not None:
                        writer.write(frame(reply))
                        await writer.drain()
            finally:
                self._busy.discard(task)

    async def _reply(self, event: FrameEvent, peer: str) -> bytes | None:
        if isinstance(event, Stray):
            log.warning(
                "MLLP bytes outside a frame ignored", extra={"peer": peer, "bytes": event.count}
            )
            return None
        if isinstance(event, Oversized):
            log.warning("MLLP frame too large, refused", extra={"peer": peer, "bytes": event.size})
            return answer_oversized(event, self.max_frame_bytes)
        return await self._handle(event.payload, peer)

    async def _handle(self, payload: bytes, peer: str) -> bytes:
        try:
            receipt = await self.sink.receive(payload)
        except Exception:
            log.exception("MLLP message could not be received", extra={"peer": peer})
            receipt = Receipt.unavailable("接收失败（内部错误，已记录日志），请稍后重发")
        return answer(payload, receipt)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()
