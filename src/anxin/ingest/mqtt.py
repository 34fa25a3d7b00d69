"""MQTT ingestion bridge (MQTT 接入): stations publish NDJSON records to
``anxin/{station_id}/{kind}``; the bridge, running inside the service process, takes
them through the one ingest path (``IngestService.ingest``) and answers on
``anxin/{station_id}/results``.

* Credentials: the station's API token with every message — the MQTT 5 user property
  ``token``, or (MQTT 3.1.1 clients) a first payload line ``{"token": "…"}``. A missing
  or unknown token, or another station's, is answered ``{"error": …}`` and not ingested.
* Records whose ``kind`` is not the topic's are rejected by the bridge (the others of
  the message are ingested); result line numbers are payload line numbers.
* Nothing lost: a persistent MQTT 5 session (fixed client id, clean_start=False, session
  expiry) subscribed at QoS 1, and manual acknowledgement only after ``ingest`` has
  returned — the ledger commit. A crash before the PUBACK makes the broker send the
  message again: the ledger takes the resent records as duplicates, never doubles.
* paho's network thread only queues messages; one worker thread ingests them in the
  order they came and acknowledges. The broker sends at most ``receive_maximum``
  unacknowledged messages (MQTT 5 flow control), so a slow database slows the broker
  down instead of filling memory. Reconnection with backoff is paho's (1 s … 30 s).
* A message that came on a connection since lost is still ingested but not
  acknowledged (its packet id belongs to the old connection): the broker resends it
  and that copy, a duplicate, is acknowledged.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, LogLevel
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from anxin.ingest.mqtt_payload import (
    KINDS,
    RESULTS,
    merge,
    parse_url,
    result_document,
    sort_kinds,
    split_topic,
    take_token,
)
from anxin.ingest.principals import Principal
from anxin.ingest.service import IngestService, NoRegistry, UploadResult
from anxin.logs import get

log = get("mqtt")
paho_log = get("mqtt.paho")

DEFAULT_CLIENT_ID = "anxin-serve"
DEFAULT_PREFIX = "anxin"


@dataclass
class BridgeMetrics:
    """Message counters for /metrics (written by the bridge's threads, read anywhere)."""

    received: int = 0  # messages delivered by the broker, redeliveries included
    ingested: int = 0  # messages taken through ingest, answered and acknowledged
    auth_failed: int = 0  # no token, unknown token, another station's token
    refused: int = 0  # unknown kind in the topic, no record, over the size limits
    errors: int = 0  # ingest attempts that raised (database down, no registry): retried
    wrong_kind: int = 0  # records rejected by the bridge: kind ≠ the topic's kind
    connects: int = 0  # successful connections to the broker
    connected: bool = False


@dataclass
class _Item:
    gen: int  # the connection it came on: its mid is only valid on that one
    mid: int
    qos: int
    topic: str
    payload: bytes
    token: str | None  # MQTT 5 user property
    correlation: bytes | None


class MqttBridge:
    def __init__(
        self,
        service: IngestService,
        station_of: Callable[[str], str | None],
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        prefix: str | None = None,
        session_expiry: int = 7 * 24 * 3600,
        receive_maximum: int = 32,
        keepalive: int = 30,
        max_payload_bytes: int = 8 * 1024 * 1024,
        max_lines: int = 20_000,
        share: str | None = None,
    ) -> None:
        """``share``: subscribe as one of the group of that name (the scale-out's
        receivers: the broker gives each message to one of them)."""
        broker = parse_url(url)
        self.share = share
        self.service, self.station_of, self.broker = service, station_of, broker
        self.username = username if username is not None else broker.username
        self.password = password if password is not None else broker.password
        self.client_id = client_id or broker.options.get("client_id") or DEFAULT_CLIENT_ID
        self.prefix = (prefix or broker.options.get("prefix") or DEFAULT_PREFIX).strip("/")
        self.session_expiry, self.receive_maximum, self.keepalive = session_expiry, receive_maximum, keepalive
        self.max_payload_bytes, self.max_lines = max_payload_bytes, max_lines
        self.metrics = BridgeMetrics()
        self.ready = threading.Event()  # connected and subscribed
        self._stopping = threading.Event()
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=2 * receive_maximum)  # + a lost connection's
        self._gen = 0
        self._gen_lock = threading.Lock()
        self._client: mqtt.Client | None = None
        self._worker: threading.Thread | None = None
        self._answers: collections.deque[mqtt.MQTTMessageInfo] = collections.deque(maxlen=4 * receive_maximum)

    # ------------------------------------------------------------ life cycle
    def start(self) -> MqttBridge:
        if self._client is not None:
            raise RuntimeError("an MqttBridge starts once: make a new one")
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
            reconnect_on_failure=True,
        )
        if self.username is not None:
            c.username_pw_set(self.username, self.password)
        if self.broker.tls:
            c.tls_set()
        c.on_log = self._on_log
        c.reconnect_delay_set(min_delay=1, max_delay=30)
        c.on_connect, c.on_disconnect, c.on_connect_fail = self._on_connect, self._on_disconnect, self._on_connect_fail
        c.on_subscribe, c.on_message = self._on_subscribe, self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry
        props.ReceiveMaximum = self.receive_maximum
        self._client = c
        self._worker = threading.Thread(target=self._work, name=f"mqtt-bridge-{self.client_id}", daemon=True)
        self._worker.start()
        c.connect_async(
            self.broker.host, self.broker.port, keepalive=self.keepalive, clean_start=False, properties=props
        )
        c.loop_start()
        log.info(
            "starting",
            extra={
                "broker": f"{self.broker.host}:{self.broker.port}",
                "client_id": self.client_id,
                "topics": f"{self.prefix}/+/+",
            },
        )
        return self

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once connected and subscribed (within ``timeout`` seconds)."""
        return self.ready.wait(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking messages, finish (ingest and acknowledge) those already queued,
        then disconnect. The session stays on the broker: what arrives meanwhile, or was
        not acknowledged, is delivered at the next start with the same client id."""
        if self._client is None or self._stopping.is_set():
            return
        self._stopping.set()
        if self._worker is not None:
            self._worker.join(timeout)
            if self._worker.is_alive():
                log.warning(
                    "stopping with a message still in ingest: the broker will send it again",
                    extra={"client_id": self.client_id},
                )
        deadline = time.monotonic() + 2.0  # let the broker take the last answers (QoS 1) first
        for info in list(self._answers):
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError):
                pass
        self._client.disconnect()
        self._client.loop_stop()
        self.metrics.connected = False
        log.info("stopped", extra={"client_id": self.client_id, "left": self._queue.qsize()})

    # ------------------------------------------------------------ paho callbacks (network thread)
    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.error("broker refused the connection", extra={"reason": str(reason), "client_id": self.client_id})
            return
        with self._gen_lock:
            self._gen += 1
        m = self.metrics
        m.connects += 1
        m.connected = True
        if not flags.session_present and m.connects > 1:
            log.warning(
                "the broker had no session for us: messages published meanwhile may be lost",
                extra={"client_id": self.client_id},
            )
        log.info("connected", extra={"client_id": self.client_id, "session_present": bool(flags.session_present)})
        if self.share is None:
            options = SubscribeOptions(qos=1, noLocal=True, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
            client.subscribe(f"{self.prefix}/+/+", options=options)
        else:  # one of several receivers: each message to one of them. (No Local is not
            # allowed on a shared subscription, so the kinds are named: never our answers.)
            shared = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
            client.subscribe([(f"$share/{self.share}/{self.prefix}/+/{kind}", shared) for kind in sorted(KINDS)])

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, reasons: list[Any], _p: Any) -> None:
        if any(r.is_failure for r in reasons):
            log.error("subscription refused", extra={"reasons": [str(r) for r in reasons]})
            return
        if any(r.value == 0 for r in reasons):
            log.warning("the broker granted QoS 0 only: messages may be lost", extra={"client_id": self.client_id})
        self.ready.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        with self._gen_lock:
            self._gen += 1  # the mids of messages still queued are void: not to be acknowledged
        self.metrics.connected = False
        self.ready.clear()
        if not self._stopping.is_set():
            log.warning("disconnected from the broker: reconnecting", extra={"reason": str(reason)})

    def _on_connect_fail(self, _c: mqtt.Client, _u: Any) -> None:
        log.warning("cannot reach the broker: retrying", extra={"broker": f"{self.broker.host}:{self.broker.port}"})

    def _on_log(self, _c: mqtt.Client, _u: Any, level: int, buf: str) -> None:
        if buf.startswith("Client is not connected"):  # paho's loop between two sockets: we log those states
            level = mqtt.MQTT_LOG_DEBUG
        paho_log.log(mqtt.LOGGING_LEVEL[LogLevel(level)], buf)  # paho passes a LogLevel, typed int

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.metrics.received += 1
        if self._stopping.is_set():
            return  # not acknowledged: the broker sends it again at the next start
        try:
            props = msg.properties
            token = next((v for k, v in getattr(props, "UserProperty", None) or [] if k == "token"), None)
            item = _Item(
                self._gen,
                msg.mid,
                msg.qos,
                msg.topic,
                bytes(msg.payload),
                token,
                getattr(props, "CorrelationData", None),
            )
        except Exception:  # a topic that is not UTF-8: nothing to answer to
            log.exception("undecodable message dropped", extra={"mid": msg.mid})
            self._ack(self._gen, msg.mid, msg.qos)
            return
        while not self._stopping.is_set():  # the queue is full only after a lost connection
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    # ------------------------------------------------------------ the worker
    def _work(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._stopping.is_set():
                    return
                continue
            try:
                self._handle(item)
            except Exception:  # a bug: not acknowledged, the broker resends it on reconnect
                self.metrics.errors += 1
                log.exception("message failed", extra={"topic": item.topic, "mid": item.mid})

    def _handle(self, item: _Item) -> None:
        where = split_topic(item.topic, self.prefix)
        if where is None or where[1] == RESULTS:  # our own answers (or a foreign shape)
            self._ack(item.gen, item.mid, item.qos)
            return
        station_id, kind = where
        if kind not in KINDS:
            return self._refuse(
                item, station_id, f"unknown kind {kind!r} in topic {item.topic!r}: one of {', '.join(KINDS)}", "refused"
            )
        if len(item.payload) > self.max_payload_bytes:
            return self._refuse(
                item,
                station_id,
                f"message of {len(item.payload)} bytes exceeds the {self.max_payload_bytes}-byte limit",
                "refused",
            )
        lines = item.payload.split(b"\n")
        line_token = take_token(lines)
        token = item.token or line_token
        if token is None:
            return self._refuse(
                item,
                station_id,
                "a station API token is required: MQTT 5 user property "
                '\'token\', or a first payload line {"token": "…"}',
                "auth_failed",
            )
        owner = self.station_of(token)
        if owner is None:
            return self._refuse(item, station_id, "unknown station API token", "auth_failed")
        if owner != station_id:
            return self._refuse(item, station_id, f"the token is not station {station_id!r}'s", "auth_failed")
        if len(lines) > self.max_lines + 1:
            return self._refuse(
                item, station_id, f"{len(lines)} lines exceed the {self.max_lines}-line limit of one message", "refused"
            )
        if not any(line.strip() for line in lines):
            return self._refuse(
                item, station_id, "the message holds no record (NDJSON: one record per line)", "refused"
            )
        wrong = sort_kinds(lines, kind, item.topic)
        self.metrics.wrong_kind += sum(1 for r in wrong if r.kind is not None)
        result: UploadResult | None = None
        if any(line.strip() for line in lines):
            result = self._ingest(station_id, lines, item)
            if result is None:
                return  # stopping while ingest fails: not acknowledged, sent again next time
        outcome = merge(result, wrong)
        self._answer(item, station_id, outcome)
        acked = self._ack(item.gen, item.mid, item.qos)
        self.metrics.ingested += 1
        log.debug(
            "ingested",
            extra={
                "topic": item.topic,
                "mid": item.mid,
                "acked": acked,
                "accepted": outcome.accepted,
                "duplicate": outcome.duplicate,
                "quarantined": outcome.quarantined,
                "rejected": outcome.rejected,
            },
        )

    def _ingest(self, station_id: str, lines: list[bytes], item: _Item) -> UploadResult | None:
        """``service.ingest``, retried with backoff while it raises (the database is
        away, no registry yet); None when the bridge stops meanwhile."""
        delay = 0.5
        while True:
            try:
                principal = Principal.station(station_id)  # a station's token: never a verification (§C)
                return self.service.ingest(station_id, lines, source=principal.source("mqtt"), principal=principal)
            except Exception as exc:
                self.metrics.errors += 1
                log.error(
                    "ingest failed: retrying",
                    exc_info=not isinstance(exc, NoRegistry),
                    extra={
                        "topic": item.topic,
                        "mid": item.mid,
                        "error": f"{type(exc).__name__}: {exc}",
                        "retry_s": delay,
                    },
                )
            if self._stopping.wait(delay):
                return None
            delay = min(delay * 2, 30.0)

    def _refuse(self, item: _Item, station_id: str, error: str, counter: str) -> None:
        setattr(self.metrics, counter, getattr(self.metrics, counter) + 1)
        log.warning("message refused", extra={"topic": item.topic, "mid": item.mid, "error": error})
        self._answer(item, station_id, error)
        self._ack(item.gen, item.mid, item.qos)

    def _answer(self, item: _Item, station_id: str, outcome: UploadResult | str) -> None:
        assert self._client is not None
        props = None
        if item.correlation is not None:
            props = Properties(PacketTypes.PUBLISH)
            props.CorrelationData = item.correlation
        doc = result_document(outcome, topic=item.topic, mid=item.mid, correlation=item.correlation)
        topic = f"{self.prefix}/{station_id}/{RESULTS}"
        self._answers.append(self._client.publish(topic, doc, qos=1, retain=False, properties=props))

    def _ack(self, gen: int, mid: int, qos: int) -> bool:
        assert self._client is not None
        with self._gen_lock:  # on the connection it came on only: a later one reuses mids
            if gen != self._gen:
                return False
            self._client.ack(mid, qos)
            return True


def start_bridge(service: IngestService, tokens: Any, url: str, **options: Any) -> MqttBridge:
    """Start the bridge for ``anxin serve``: ``tokens`` is the app's TokenIndex (or any
    ``token → station_id | None`` callable); ``options`` are MqttBridge's keywords."""
    station_of = tokens.station if hasattr(tokens, "station") else tokens
    return MqttBridge(service, station_of, url, **options).start()


__all__ = ["MqttBridge", "BridgeMetrics", "start_bridge", "DEFAULT_CLIENT_ID", "DEFAULT_PREFIX"]
