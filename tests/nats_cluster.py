"""A real three-node NATS JetStream cluster, and network namespaces, for fault tests.

:class:`NatsCluster` starts ``nats-server`` processes (names n1..n3) on free loopback
ports, each with its own JetStream store under a tmp dir and its log in that dir; nodes
can be killed (``kill -9`` or any signal) and started again on the same ports and store.
:class:`Netns` makes a network namespace joined to the host by a veth pair, so a process
started inside it (``ns.popen([...])``) can be cut off from the network and given it back
(``cut()`` / ``restore()``): its packets are silently dropped meanwhile, as in a real
partition (connects time out, established connections hang, nothing is refused).

Services listening on 127.0.0.1 only (PostgreSQL, the single-node NATS on :4222) are not
reachable from inside a namespace. Two ways in:

* ``ns.forward(port)`` starts a small TCP forwarder in this process, listening on the
  host side of the veth (``ns.host_addr``) and connecting to ``127.0.0.1:port``; it
  returns the port to use from inside. PostgreSQL, say::

      pg_port = ns.forward(5432)
      url = f"postgresql://postgres@{ns.host_addr}:{pg_port}/test"  # inside the ns

  (PostgreSQL sees the connection coming from 127.0.0.1, so its configuration is left
  alone.) ``[ns.forward(p) for p in cluster.client_ports]`` does the same for the
  cluster's nodes; a killed node's forwarder then closes each connection it accepts.
* ``NatsCluster(host="0.0.0.0")`` makes the nodes accept clients on every address, the
  veth host side included: ``cluster.urls_at(ns.host_addr)`` from inside. (Routes
  between the nodes stay on 127.0.0.1 either way; the ports are then open on the
  machine's other interfaces too, for the life of the test.)

A missing ``nats-server`` (or ``ip``, or no permission for namespaces) skips a test
locally and fails it under ``CI=true`` (tests/services.py's ``missing``).

Usage::

    with NatsCluster(tmp_path) as cluster:
        nc = await nats.connect(servers=cluster.urls)
        ...
        cluster.kill("n2")          # or cluster.kill(1); SIGKILL, waits for the exit
        cluster.start("n2")         # same ports, same store
        cluster.wait_ready(30)      # meta leader, every node current (/healthz)
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from services import missing

NATS_SERVER = os.environ.get("ANXIN_NATS_SERVER") or shutil.which("nats-server") or "/usr/sbin/nats-server"
IP = shutil.which("ip") or "/usr/sbin/ip"
POLL = 0.05  # seconds between polls while waiting for something


def need_nats_server() -> str:
    """The nats-server binary's path, or skip (locally) / fail (CI) the test."""
    if not (os.path.isfile(NATS_SERVER) and os.access(NATS_SERVER, os.X_OK)):
        missing(f"the nats-server binary ({NATS_SERVER}; set ANXIN_NATS_SERVER)")
    return NATS_SERVER


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _deadline_loop(timeout: float, what: str) -> Iterator[None]:
    """Yields until ``timeout`` s have passed, then raises; sleeps POLL between turns."""
    end = time.monotonic() + timeout
    while True:
        yield
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(POLL)


# Every process this module starts, killed at interpreter exit whatever happened.
_LIVE: weakref.WeakSet[subprocess.Popen[bytes]] = weakref.WeakSet()


def _kill_all_live() -> None:
    for p in list(_LIVE):
        _hard_kill(p)


def _hard_kill(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            p.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(5)
    _LIVE.discard(p)


atexit.register(_kill_all_live)


class _Node:
    def __init__(self, name: str, client_port: int, route_port: int, http_port: int, store: Path, log: Path) -> None:
        self.name = name
        self.client_port = client_port
        self.route_port = route_port
        self.http_port = http_port
        self.store = store
        self.log = log
        self.conf = store.parent / f"{name}.conf"
        self.proc: subprocess.Popen[bytes] | None = None
        self.up = False  # meant to be running: started, and not killed or stopped since

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class NatsCluster:
    """``size`` nats-server nodes (n1..), JetStream on, one cluster; a context manager.

    ``workdir``: where the stores (``<workdir>/n1/``...), configs and logs
    (``<workdir>/n1.log``...) go; a fresh temporary dir (removed on ``stop()``) if None.
    ``host``: the client listen address (routes and monitoring stay on 127.0.0.1).
    Nodes are addressed by index (0-based, ``urls[i]``) or by name ("n1", as JetStream
    reports leaders)."""

    def __init__(
        self,
        workdir: str | os.PathLike[str] | None = None,
        *,
        size: int = 3,
        host: str = "127.0.0.1",
        cluster_name: str = "anxin-test",
        ready_timeout: float = 30.0,
        binary: str | None = None,
    ) -> None:
        self.binary = binary or NATS_SERVER
        if not (os.path.isfile(self.binary) and os.access(self.binary, os.X_OK)):
            missing(f"the nats-server binary ({self.binary}; set ANXIN_NATS_SERVER)")
        self.host = host
        self.cluster_name = cluster_name
        self.ready_timeout = ready_timeout
        self._own_dir = workdir is None
        self.dir = Path(tempfile.mkdtemp(prefix="nats-cluster-")) if workdir is None else Path(workdir)
        self.nodes: list[_Node] = []
        for i in range(size):
            name = f"n{i + 1}"
            self.nodes.append(
                _Node(name, free_port(), free_port(), free_port(), self.dir / name, self.dir / f"{name}.log")
            )
        self.start_seconds: float | None = None  # measured by __enter__/start_all
        # kills the nodes (and removes a dir of its own) on stop(), or at exit if not stopped
        self._finalizer = weakref.finalize(self, _cleanup, self.nodes, self.dir if self._own_dir else None)

    # -- addresses -------------------------------------------------------------------
    @property
    def client_host(self) -> str:
        return "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host

    @property
    def urls(self) -> list[str]:
        return [self.url(i) for i in range(len(self.nodes))]

    @property
    def client_ports(self) -> list[int]:
        return [n.client_port for n in self.nodes]

    def url(self, node: int | str) -> str:
        return f"nats://{self.client_host}:{self.node(node).client_port}"

    def urls_at(self, addr: str) -> list[str]:
        """The nodes' URLs at another of this machine's addresses (with ``host="0.0.0.0"``)."""
        return [f"nats://{addr}:{n.client_port}" for n in self.nodes]

    def node(self, node: int | str) -> _Node:
        if isinstance(node, str):
            for n in self.nodes:
                if n.name == node:
                    return n
            raise KeyError(f"no node named {node!r}")
        return self.nodes[node]

    def index(self, name: str) -> int:
        """The index of the node called ``name`` ("n2" → 1)."""
        return self.nodes.index(self.node(name))

    def log(self, node: int | str) -> str:
        """The node's log so far (all its runs)."""
        p = self.node(node).log
        return p.read_text(errors="replace") if p.exists() else ""

    # -- life cycle ------------------------------------------------------------------
    def __enter__(self) -> NatsCluster:
        self.start_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start_all(self) -> None:
        t0 = time.monotonic()
        for attempt in range(3):
            try:
                for n in self.nodes:
                    self._launch(n)
                self.wait_ready(self.ready_timeout, probe_stream=True)
                break
            except RuntimeError as e:  # a port taken between free_port() and the server's bind
                _kill_nodes(self.nodes)
                if attempt == 2 or "address already in use" not in str(e):
                    self.stop()
                    raise
                for n in self.nodes:
                    n.client_port, n.route_port, n.http_port = free_port(), free_port(), free_port()
            except BaseException:
                self.stop()
                raise
        self.start_seconds = time.monotonic() - t0

    def _write_conf(self, n: _Node) -> None:
        routes = ", ".join(f'"nats://127.0.0.1:{m.route_port}"' for m in self.nodes if m is not n)
        n.conf.write_text(
            f"server_name: {n.name}\n"
            f'listen: "{self.host}:{n.client_port}"\n'
            f'http: "127.0.0.1:{n.http_port}"\n'
            f"log_file: {json.dumps(str(n.log))}\n"
            "logtime: true\n"
            f"jetstream {{ store_dir: {json.dumps(str(n.store))} }}\n"
            "cluster {\n"
            f"  name: {json.dumps(self.cluster_name)}\n"
            f'  listen: "127.0.0.1:{n.route_port}"\n'
            f"  routes: [{routes}]\n"
            "  no_advertise: true\n"  # clients keep to the URLs they were given
            "}\n"
        )

    def _launch(self, n: _Node) -> None:
        n.store.mkdir(parents=True, exist_ok=True)
        self._write_conf(n)
        with open(n.log, "ab") as out:  # what the server says before its log is open
            n.proc = subprocess.Popen(
                [self.binary, "-c", str(n.conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a ^C to pytest does not reach it; stop() does
            )
        _LIVE.add(n.proc)
        n.up = True

    def start(self, node: int | str, *, wait: float | None = 10.0) -> None:
        """Start a stopped node again, same ports and store; waits (``wait`` s) until it
        answers its monitoring port — not until it caught up: see :meth:`wait_ready`."""
        n = self.node(node)
        if n.running:
            raise RuntimeError(f"{n.name} is running")
        self._launch(n)
        if wait:
            for _ in _deadline_loop(wait, f"{n.name} to listen"):
                if self._http(n, "/varz") is not None:
                    return
                if not n.running:
                    raise RuntimeError(f"{n.name} exited at start:\n{self.log(n.name)[-2000:]}")

    def kill(self, node: int | str, sig: int = signal.SIGKILL, *, wait: float = 10.0) -> None:
        """Send ``sig`` to the node; for a signal that ends it, wait for its exit."""
        n = self.node(node)
        if n.proc is None or not n.running:
            raise RuntimeError(f"{n.name} is not running")
        if sig not in (signal.SIGSTOP, signal.SIGCONT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
            n.up = False
        n.proc.send_signal(sig)
        if sig in (signal.SIGSTOP, signal.SIGCONT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
            return
        n.proc.wait(wait)
        _LIVE.discard(n.proc)

    def pause(self, node: int | str) -> None:
        """SIGSTOP: the node hangs (its TCP connections stay open, nothing answers)."""
        self.kill(node, signal.SIGSTOP)

    def resume(self, node: int | str) -> None:
        self.kill(node, signal.SIGCONT)

    def heal(self, timeout: float = 30.0) -> None:
        """Every node running again (paused ones resumed, stopped ones started), then
        :meth:`wait_ready` — for a shared cluster between fault tests."""
        for n in self.nodes:
            if n.running and n.proc is not None:
                n.proc.send_signal(signal.SIGCONT)
            else:
                self.start(n.name)
        self.wait_ready(timeout)

    def running(self) -> list[str]:
        return [n.name for n in self.nodes if n.running]

    def stop(self) -> None:
        """Kill every node (SIGKILL) and remove the work dir if this cluster made it."""
        self._finalizer()

    # -- state -----------------------------------------------------------------------
    def _http(self, n: _Node, path: str, timeout: float = 1.0) -> dict[str, Any] | None:
        """The node's monitoring JSON, or None when it does not answer / says unhealthy."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{n.http_port}{path}", timeout=timeout) as r:
                return dict(json.loads(r.read()))
        except (OSError, ValueError, urllib.error.URLError):
            return None

    def jsz(self, node: int | str, query: str = "") -> dict[str, Any] | None:
        """The node's ``/jsz`` (JetStream) monitoring document, None if it does not answer."""
        return self._http(self.node(node), "/jsz" + (f"?{query}" if query else ""))

    def meta_leader(self) -> str | None:
        """The JetStream meta leader's name when every running node names the same running
        node (a killed leader stays named by the others until they elect); else None."""
        seen = set()
        live = [n for n in self.nodes if n.running]
        for n in live:
            j = self._http(n, "/jsz")
            seen.add(((j or {}).get("meta_cluster") or {}).get("leader") or None)
        if len(seen) == 1 and (leader := seen.pop()) in {n.name for n in live}:
            return str(leader)
        return None

    def healthy(self, node: int | str) -> bool:
        """The node's ``/healthz``: JetStream on, meta and its streams/consumers current."""
        h = self._http(self.node(node), "/healthz")
        return h is not None and h.get("status") == "ok"

    def stream_state(self, node: int | str, stream: str, account: str = "$G") -> dict[str, Any] | None:
        """The node's own replica of ``stream`` (``messages``, ``first_seq``, ``last_seq``...)
        as its store holds it, from ``/jsz`` — what the node has, not what the leader says."""
        j = self.jsz(node, "accounts=true&streams=true")
        for acc in (j or {}).get("account_details") or []:
            if acc.get("name") != account:
                continue
            for s in acc.get("stream_detail") or []:
                if s.get("name") == stream:
                    return dict(s.get("state") or {})
        return None

    def wait_ready(self, timeout: float = 30.0, *, probe_stream: bool | None = None) -> float:
        """Wait until there is a meta leader and every running node is current
        (``/healthz`` ok); with ``probe_stream`` (default: when every node runs) also until
        a stream with R=size can be created (it is deleted again). Returns the seconds."""
        t0 = time.monotonic()
        live = [n for n in self.nodes if n.running]
        if probe_stream is None:
            probe_stream = len(live) == len(self.nodes)
        for _ in _deadline_loop(timeout, f"the cluster to be ready ({self.dir})"):
            dead = [n.name for n in self.nodes if n.up and not n.running]  # crashed, or a port taken
            if dead:
                raise RuntimeError(f"{dead} exited:\n" + "\n".join(self.log(d)[-2000:] for d in dead))
            if self.meta_leader() and all(self.healthy(n.name) for n in live):
                break
        if probe_stream:
            left = max(1.0, timeout - (time.monotonic() - t0))
            _run_async(self._probe(left))
        return time.monotonic() - t0

    async def _probe(self, timeout: float) -> None:
        import nats
        from nats.js.errors import Error as JsError

        nc = await nats.connect(servers=self.urls, connect_timeout=2, max_reconnect_attempts=-1)
        try:
            js = nc.jetstream(timeout=2)
            end = time.monotonic() + timeout
            name = f"HARNESS_PROBE_{os.getpid()}"
            while True:
                try:
                    await js.add_stream(
                        name=name, subjects=[f"_harness.probe.{os.getpid()}"], num_replicas=len(self.nodes)
                    )
                    await js.publish(f"_harness.probe.{os.getpid()}", b"probe")
                    await js.delete_stream(name)
                    return
                except (TimeoutError, JsError, nats.errors.Error) as e:
                    if time.monotonic() > end:
                        raise TimeoutError(f"no R={len(self.nodes)} stream after {timeout} s: {e!r}") from e
                    await asyncio.sleep(0.1)
        finally:
            await nc.close()


def _cleanup(nodes: Sequence[_Node], own_dir: Path | None) -> None:
    _kill_nodes(nodes)
    if own_dir is not None:
        shutil.rmtree(own_dir, ignore_errors=True)


def _kill_nodes(nodes: Sequence[_Node]) -> None:
    for n in nodes:
        n.up = False
        if n.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                n.proc.send_signal(signal.SIGCONT)  # a paused node dies too
            _hard_kill(n.proc)


def _run_async(coro: Any) -> Any:
    """Run a coroutine to its end, also when called from inside a running event loop (in
    a thread then: that loop is blocked meanwhile)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["v"] = asyncio.run(coro)
        except BaseException as e:  # handed to the caller
            box["e"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "e" in box:
        raise box["e"]
    return box.get("v")


# -- network namespaces ----------------------------------------------------------------

_ns_counter = 0
_ns_lock = threading.Lock()


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([IP, *args], capture_output=True, text=True, check=check)


def _used_ipv4() -> set[str]:
    out = _ip("-o", "-4", "addr", "show", check=False).stdout
    return {w.split("/")[0] for line in out.splitlines() for w in line.split() if "/" in w and w[0].isdigit()}


class Netns:
    """A network namespace joined to the host by a veth pair on its own /30 in
    10.200.0.0/16 (chosen from the pid and a counter, skipping addresses in use, so
    xdist workers do not clash). ``host_addr`` is the host side, ``ns_addr`` the inside.

    ``cut()`` takes the host side of the link down: the inside's packets go nowhere
    (connects time out, connections hang) and the host is not bothered; ``restore()``
    brings it back up and waits for the carrier. Everything is removed on exit (and
    at interpreter exit if a test forgot)."""

    def __init__(self, prefix: str = "anxt") -> None:
        global _ns_counter
        with _ns_lock:
            _ns_counter += 1
            k = _ns_counter
        tag = f"{os.getpid() % 100000}{k % 100:02d}"
        self.name = f"{prefix}{tag}"
        self.host_if = f"axh{tag}"  # interface names are at most 15 characters
        self.ns_if = f"axn{tag}"
        used = _used_ipv4()
        base = (os.getpid() * 7 + k * 131) % 16384
        for j in range(16384):
            slot = (base + j) % 16384
            a = 10 << 24 | 200 << 16 | slot * 4
            host, inside = _v4(a + 1), _v4(a + 2)
            if host not in used and inside not in used:
                break
        self.host_addr = host
        self.ns_addr = inside
        self._forwards: list[TcpForward] = []
        self._procs: list[subprocess.Popen[bytes]] = []
        self._made = False
        self.is_cut = False

    def __enter__(self) -> Netns:
        if os.geteuid() != 0 or not os.path.exists(IP):
            missing("network namespaces (root and iproute2's ip)")
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create(self) -> None:
        _ip("netns", "add", self.name)
        self._made = True
        _NS_LIVE[self.name] = self
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        _ip("link", "set", self.ns_if, "netns", self.name)
        _ip("addr", "add", f"{self.host_addr}/30", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        _ip("-n", self.name, "addr", "add", f"{self.ns_addr}/30", "dev", self.ns_if)
        _ip("-n", self.name, "link", "set", self.ns_if, "up")
        _ip("-n", self.name, "link", "set", "lo", "up")
        self._wait_carrier(10.0)

    def _wait_carrier(self, timeout: float) -> None:
        for _ in _deadline_loop(timeout, f"the link of {self.name} to come up"):
            a = _ip("-o", "link", "show", self.host_if, check=False).stdout
            b = _ip("-n", self.name, "-o", "link", "show", self.ns_if, check=False).stdout
            if "LOWER_UP" in a and "LOWER_UP" in b and "NO-CARRIER" not in a + b:
                return

    def argv(self, cmd: Sequence[str]) -> list[str]:
        """``cmd`` run inside the namespace (``ip netns exec <name> ...``)."""
        return [IP, "netns", "exec", self.name, *cmd]

    def popen(self, cmd: Sequence[str], **kw: Any) -> subprocess.Popen[bytes]:
        """Start ``cmd`` inside the namespace; it is killed when the namespace goes."""
        p: subprocess.Popen[bytes] = subprocess.Popen(self.argv(cmd), **kw)
        self._procs.append(p)
        _LIVE.add(p)
        return p

    def run(self, cmd: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[Any]:
        return subprocess.run(self.argv(cmd), **kw)

    def cut(self) -> None:
        """Sever the namespace from the host (host side of the veth down)."""
        _ip("link", "set", self.host_if, "down")
        self.is_cut = True

    def restore(self, timeout: float = 10.0) -> None:
        """Give the namespace its link back; waits for the carrier and forgets the
        neighbours that failed meanwhile (else the first packets say 'no route to host')."""
        _ip("link", "set", self.host_if, "up")
        self._wait_carrier(timeout)
        _ip("neigh", "flush", "dev", self.host_if, check=False)
        _ip("-n", self.name, "neigh", "flush", "dev", self.ns_if, check=False)
        self.is_cut = False

    def forward(self, port: int, target_host: str = "127.0.0.1", listen_port: int = 0) -> int:
        """Make ``target_host:port`` reachable from inside at ``host_addr:<returned port>``
        (a TCP forwarder in this process, for services that listen on loopback only)."""
        f = TcpForward((self.host_addr, listen_port), (target_host, port))
        self._forwards.append(f)
        return f.port

    def close(self) -> None:
        for p in self._procs:
            _hard_kill(p)
        for f in self._forwards:
            f.close()
        self._forwards.clear()
        if self._made:
            _ip("link", "del", self.host_if, check=False)  # removes its peer too
            _ip("netns", "del", self.name, check=False)
            self._made = False
        _NS_LIVE.pop(self.name, None)


_NS_LIVE: dict[str, Netns] = {}


def _close_all_ns() -> None:
    for ns in list(_NS_LIVE.values()):
        ns.close()


atexit.register(_close_all_ns)


def _v4(a: int) -> str:
    return ".".join(str(a >> s & 255) for s in (24, 16, 8, 0))


class TcpForward:
    """Accepts on ``listen`` and pipes each connection to ``target`` (threads; a failed
    connect to the target closes the accepted connection)."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.target = target
        self._sock = socket.create_server(listen, reuse_port=False)
        self.port = int(self._sock.getsockname()[1])
        self._closed = False
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name=f"fwd:{self.port}").start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                c, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c: socket.socket) -> None:
        try:
            u = socket.create_connection(self.target, timeout=5)
        except OSError:
            c.close()
            return
        u.settimeout(None)
        with self._lock:
            if self._closed:
                c.close()
                u.close()
                return
            self._conns += [c, u]
        threading.Thread(target=self._pipe, args=(u, c), daemon=True).start()
        self._pipe(c, u)

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._conns = self._conns, []
        with contextlib.suppress(OSError):
            self._sock.close()
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


class Lines:
    """The lines a process writes to a pipe, each with the ``time.monotonic()`` it was
    read at (a thread reads them): wait for a line that came after some moment, e.g.
    the first ``err`` a worker prints after ``cut()``."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._eof = False
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n") if isinstance(raw, bytes) else raw.rstrip("\n")
            with self._cond:
                self.lines.append((time.monotonic(), line))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def wait_for(self, match: Any, *, after: float = 0.0, timeout: float = 10.0) -> tuple[float, str]:
        """The first line read after ``after`` that equals ``match`` (a str) or satisfies it
        (a callable); raises TimeoutError (with the recent lines) otherwise."""
        ok = match if callable(match) else (lambda s: s == match)
        end = time.monotonic() + timeout
        with self._cond:
            i = 0
            while True:
                for t, line in self.lines[i:]:
                    if t >= after and ok(line):
                        return t, line
                i = len(self.lines)
                left = end - time.monotonic()
                if left <= 0 or self._eof:
                    recent = [s for _, s in self.lines[-10:]]
                    raise TimeoutError(f"no line {match!r} after {timeout} s (eof={self._eof}); last: {recent}")
                self._cond.wait(min(left, POLL * 4))
