"""Where the edge agent reads records: JSONL files it tails (globs; files grow, new
files appear) and, optionally, a local MQTT topic whose payloads are NDJSON.

A file's lines enter the outbox in the same transaction as the file's new offset,
which always sits just after a "\\n": a partial last line waits until it is complete.
A file whose device/inode or first bytes changed (replaced) or that shrank (truncated)
is read again from its start. MQTT messages (QoS 1, persistent session) are
acknowledged to the broker only after their lines are committed to the outbox.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from anxin.edge.outbox import Offset, Outbox

log = logging.getLogger("anxin.edge")

CHUNK = 64 * 1024  # bytes read from one file per turn (files are read round-robin)
MAX_LINE = 1 << 20  # a longer line is set aside unread, its first MAX_LINE bytes kept (the platform takes ≤ 64 KiB)
HEAD = 256  # a file's first bytes, kept with its offset: an inode reused by a new file is noticed


def split_lines(data: bytes, first_line: int) -> tuple[list[tuple[int, bytes]], int]:
    """Complete lines of ``data`` (which ends with "\\n"): (number, body) of the non-blank
    ones, and how many lines there were."""
    out = []
    parts = data.split(b"\n")[:-1]
    for k, raw in enumerate(parts):
        raw = raw.rstrip(b"\r")
        if raw.strip():
            out.append((first_line + k, raw))
    return out, len(parts)


class FileTailer:
    def __init__(self, outbox: Outbox, patterns: list[str], *, chunk: int = CHUNK, max_line: int = MAX_LINE) -> None:
        self.outbox = outbox
        self.patterns = [os.path.expanduser(p) for p in patterns]
        self.chunk, self.max_line = chunk, max_line
        self.offsets: dict[str, Offset] = outbox.offsets()
        self.exclude = {os.path.abspath(str(outbox.path)) + suffix for suffix in ("", "-wal", "-shm")}

    def files(self) -> list[str]:
        found: set[str] = set()
        for pattern in self.patterns:
            for p in glob.glob(pattern, recursive=True):
                p = os.path.abspath(p)  # the offset's key, whatever the pattern's spelling
                if os.path.isfile(p) and p not in self.exclude:
                    found.add(p)
        return sorted(found)

    def poll(self, budget: float = 8 << 20) -> tuple[int, int]:
        """Read what the files have now (up to about ``budget`` bytes, round-robin by
        chunk): (lines added to the outbox, bytes consumed)."""
        added, spent = 0, 0
        active = self.files()
        while active and spent < budget:
            still = []
            for path in active:
                n, used = self._read(path)
                added, spent = added + n, spent + used
                if used:
                    still.append(path)
            active = still
        return added, spent

    def _read(self, path: str) -> tuple[int, int]:
        """One chunk of one file: (lines added, bytes consumed)."""
        try:
            st = os.stat(path)
        except OSError:
            return 0, 0  # gone between glob and stat
        known = self.offsets.get(path)
        if known is not None and st.st_size == known.pos and (known.dev, known.ino) == (st.st_dev, st.st_ino):
            return 0, 0  # nothing new
        try:
            with open(path, "rb") as f:
                known = self._same_file(path, f, st, known)
                pos, lines, head = (known.pos, known.lines, known.head) if known else (0, 0, b"")
                f.seek(pos)
                data = f.read(self.chunk)
                while b"\n" not in data and len(data) < self.max_line:
                    more = f.read(min(self.chunk, self.max_line - len(data)))
                    if not more:
                        break
                    data += more
                end = data.rfind(b"\n")
                if end < 0 and len(data) < self.max_line:
                    return 0, 0  # a partial last line: wait until it is complete
                if end < 0:  # an overlong line: find its end without keeping it
                    length = _line_length(f, len(data))
                    if length is None:
                        return 0, 0  # not complete yet either
                    used = length + 1
                else:
                    used = end + 1
                if len(head) < HEAD and pos + used > len(head):  # the file's fingerprint: its first bytes
                    f.seek(0)
                    head = f.read(min(HEAD, pos + used))
        except OSError as exc:
            log.warning("cannot read a source file", extra={"path": path, "error": str(exc)})
            return 0, 0
        aside: list[tuple[int, bytes, str]] = []
        if end < 0:
            reason = f"line of {used - 1} bytes, over the agent's {self.max_line}-byte limit: not uploaded"
            aside.append((lines + 1, data[: self.max_line], reason))  # its beginning, for the operator
            log.error("line too long: set aside", extra={"path": path, "line_no": lines + 1, "bytes": used - 1})
            new: list[tuple[int, bytes]] = []
            count = 1
        else:
            new, count = split_lines(data[:used], lines + 1)
        offset = Offset(st.st_dev, st.st_ino, pos + used, lines + count, head)
        self._commit(path, new, offset, aside)
        return len(new), used

    def _same_file(self, path: str, f, st: os.stat_result, known: Offset | None) -> Offset | None:
        """``known`` if the file is the one it describes, None (read from the start) if it
        was replaced (another inode, or other first bytes) or truncated."""
        if known is None:
            return None
        if (known.dev, known.ino) != (st.st_dev, st.st_ino):
            why = "file replaced (new inode)"
        elif st.st_size < known.pos:
            why = "file truncated"
        elif known.head and f.read(len(known.head)) != known.head:
            why = "file replaced (its first bytes changed)"
        else:
            return known
        log.warning(
            f"{why}: reading it from its start", extra={"path": path, "previous_pos": known.pos, "size": st.st_size}
        )
        return None

    def _commit(self, path: str, new, offset: Offset, aside) -> None:
        self.outbox.append(path, new, offset, aside)
        self.offsets[path] = offset


def _line_length(f, seen: int) -> int | None:
    """Bytes up to the next "\\n" (``seen`` of them already read), or None if there is none yet."""
    n = seen
    while True:
        block = f.read(1 << 20)
        if not block:
            return None
        k = block.find(b"\n")
        if k >= 0:
            return n + k
        n += len(block)


@dataclass(frozen=True)
class MqttUrl:
    host: str
    port: int
    topic: str
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> MqttUrl:
        """``mqtt://[user[:password]@]host[:port]/topic`` (the topic is taken as written,
        wildcards ``+`` and ``#`` included). Raises ValueError."""
        if not url.startswith("mqtt://"):
            raise ValueError(f"MQTT source {url!r}: expected mqtt://host[:port]/topic")
        rest = url[len("mqtt://") :]
        netloc, _, topic = rest.partition("/")
        if not topic:
            raise ValueError(f"MQTT source {url!r}: no topic (mqtt://host[:port]/topic)")
        user = password = None
        if "@" in netloc:
            cred, netloc = netloc.rsplit("@", 1)
            user, _, pw = cred.partition(":")
            user, password = unquote(user), (unquote(pw) if pw else None)
        host, _, port = netloc.rpartition(":") if ":" in netloc else (netloc, "", "")
        if not host or (port and not port.isdigit()):
            raise ValueError(f"MQTT source {url!r}: bad host or port")
        return cls(host, int(port or 1883), topic, user, password)


class MqttSource:
    """Subscribes (QoS 1, persistent session named after the outbox) and appends each
    message's lines to the outbox, acknowledging the message after the commit."""

    def __init__(self, outbox: Outbox, url: str, on_data: Callable[[], None] = lambda: None) -> None:
        import paho.mqtt.client as mqtt

        self.url = MqttUrl.parse(url)
        self.outbox, self.on_data = outbox, on_data
        self.subscribed = threading.Event()
        self.last_message = time.monotonic()
        self.messages = 0
        name = hashlib.sha256(os.path.abspath(str(outbox.path)).encode()).hexdigest()[:16]
        self.client_id = f"anxin-edge-{name}"  # its persistent session on the broker
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=False, manual_ack=True
        )
        if self.url.username:
            self.client.username_pw_set(self.url.username, self.url.password)
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect

    def start(self) -> None:
        self.client.connect_async(self.url.host, self.url.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def drain(self, quiet_s: float = 0.5, timeout_s: float = 10.0) -> bool:
        """For ``--once``: wait for the subscription, then until no message came for
        ``quiet_s``. False when the broker could not be reached in ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        if not self.subscribed.wait(timeout_s):
            log.error("MQTT broker unreachable", extra={"host": self.url.host, "port": self.url.port})
            return False
        while time.monotonic() < deadline and time.monotonic() - self.last_message < quiet_s:
            time.sleep(0.05)
        return True

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT connection refused", extra={"host": self.url.host, "reason": str(reason_code)})
            return
        log.info("MQTT connected", extra={"host": self.url.host, "port": self.url.port, "topic": self.url.topic})
        self.last_message = time.monotonic()
        client.subscribe(self.url.topic, qos=1)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.subscribed.clear()
        if reason_code.is_failure:
            log.warning("MQTT disconnected", extra={"host": self.url.host, "reason": str(reason_code)})

    def _on_message(self, client, userdata, msg) -> None:
        self.last_message = time.monotonic()
        lines, _ = split_lines(bytes(msg.payload).rstrip(b"\n") + b"\n", 1)
        try:
            self.outbox.append(f"mqtt:{msg.topic}", lines)
        except Exception:  # not acknowledged: the broker delivers it again
            log.exception("MQTT message not stored", extra={"topic": msg.topic})
            return
        client.ack(msg.mid, msg.qos)
        self.messages += 1
        self.on_data()
