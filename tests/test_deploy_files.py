"""The deployment files, checked without a Docker daemon (CI has none): compose.yaml by
Debian's docker-compose and the Compose Specification schema, the Dockerfile parsed,
the systemd units by systemd-analyze, the nginx front by ``nginx -t`` and by a real
nginx in front of a real ``anxin serve``, the Mosquitto configuration by a real
Mosquitto, and the compose demo's station script against a real service.

A missing tool skips its test here and fails it in CI (CI=true): the Debian packages
are docker-compose, nginx, systemd and mosquitto."""

from __future__ import annotations

import datetime
import inspect
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import uvicorn
import yaml
from live import ADMIN, free_port
from services import wait_for

from anxin.serve.config import ServeConfig
from anxin.serve.runtime import build

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
VENV_BIN = Path(sys.executable).parent


def tool(name: str, package: str) -> str:
    """The path of a command-line tool; a missing one skips (fails in CI)."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None
    )
    if path is None:
        msg = f"{name} is not installed (Debian package {package})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + ", and CI needs it", pytrace=False)
        pytest.skip(msg)
    return path


# ------------------------------------------------------------------ a live service


@pytest.fixture()
def live_app(tmp_path) -> Iterator[str]:
    """``anxin serve``'s app on a free loopback port (uvicorn in a thread, as the CLI
    runs it, proxy headers trusted from 127.0.0.1); yields its base URL."""
    _, _, app = build(db=str(tmp_path / "db.sqlite"), admin_token=ADMIN)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=True, forwarded_allow_ips="127.0.0.1"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, timeout=30, what="uvicorn")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


# ------------------------------------------------------------------ compose.yaml

PROFILES = [(), ("demo",), ("cluster",), ("demo", "cluster")]


def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("profiles", PROFILES, ids=lambda p: "+".join(p) or "default")
def test_compose_file_is_valid_for_docker_compose(profiles: tuple[str, ...]) -> None:
    exe = tool("docker-compose", "docker-compose")
    args = [exe, "-f", "compose.yaml"]
    for p in profiles:
        args += ["--profile", p]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_", "ANXIN_"))}
    r = subprocess.run([*args, "config", "-q"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "WARN" not in r.stderr.upper(), r.stderr  # e.g. a variable without a default
    r = subprocess.run([*args, "config"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    resolved = yaml.safe_load(r.stdout)
    assert {"db", "mqtt", "migrate", "anxin"} <= set(resolved["services"])


def test_compose_file_matches_the_compose_specification_schema() -> None:
    """tests/data/compose-spec.json: the Compose Specification's schema (see its .md)."""
    import jsonschema

    schema = json.loads((DATA / "compose-spec.json").read_text(encoding="utf-8"))
    assert schema["$schema"].startswith("http://json-schema.org/draft/2019-09/")
    validator = jsonschema.Draft201909Validator(schema)
    errors = sorted(validator.iter_errors(compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_compose_services_are_wired_as_documented() -> None:
    doc = compose()
    s = doc["services"]
    assert s["anxin"]["build"]["context"] == "." and (REPO / "Dockerfile").exists()
    assert s["anxin"]["command"] == ["serve", "--host", "0.0.0.0", "--role", "${ANXIN_ROLE:-all}"]
    # The scale-out's receivers and workers, with NATS, in the cluster profile only.
    assert s["receiver"]["command"] == ["serve", "--role", "receiver", "--host", "0.0.0.0"]
    assert s["worker"]["command"] == ["worker"]
    for name in ("receiver", "worker"):
        assert s[name]["profiles"] == ["cluster"] and "nats_url" in s[name]["secrets"]
        assert s[name]["depends_on"]["nats"]["condition"] == "service_healthy"
    assert s["migrate"]["command"] == ["db", "upgrade"] and s["migrate"]["restart"] == "no"
    assert s["anxin"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert s["anxin"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert s["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert "pg_isready" in s["db"]["healthcheck"]["test"]
    assert s["nats"]["profiles"] == ["cluster"] and "--jetstream" in s["nats"]["command"]
    assert s["edge-demo"]["profiles"] == ["demo"]
    assert not any("profiles" in s[name] for name in ("db", "mqtt", "migrate", "anxin"))
    # The service is reached through the TLS front on the host only.
    assert s["anxin"]["ports"] == ["127.0.0.1:8080:8080"]
    assert "ports" not in s["db"]
    # Every bind-mounted file exists in the repository.
    for name, svc in s.items():
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).is_file(), (name, source)


def test_compose_secrets_are_files_never_values(tmp_path) -> None:
    doc = compose()
    assert doc["secrets"] and all(set(v) == {"file"} for v in doc["secrets"].values())
    assert all(v["file"].startswith("./secrets/") for v in doc["secrets"].values())
    secretish = re.compile(r"TOKEN|PASSWORD|SECRET|_URL$|^ANXIN_DB$")
    for name, svc in doc["services"].items():
        env = svc.get("environment", {})
        assert isinstance(env, dict), name
        for key, value in env.items():
            if secretish.search(key) and key != "ANXIN_DEMO_SERVER":
                assert key.endswith("_FILE") and str(value).startswith("/run/secrets/"), (name, key)
        for key in env:
            if key.endswith("_FILE"):
                secret = Path(str(env[key])).name
                assert secret in svc.get("secrets", []), (name, key, "secret not mounted")
    # deploy/compose-secrets.py makes exactly these files.
    made = tmp_path / "secrets"
    subprocess.run([sys.executable, str(REPO / "deploy/compose-secrets.py"), str(made)], check=True, timeout=60)
    assert {p.name for p in made.iterdir()} == {Path(v["file"]).name for v in doc["secrets"].values()}
    # Mosquitto reads its password file from the secret.
    conf = (REPO / "deploy/mosquitto/mosquitto.conf").read_text()
    assert "password_file /run/secrets/mosquitto_passwd" in conf and "allow_anonymous false" in conf
    assert "mosquitto_passwd" in doc["services"]["mqtt"]["secrets"]


# ------------------------------------------------------------------ Dockerfile


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in (REPO / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending
    return out


def _stages(instructions: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for ins in instructions:
        if ins[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def test_dockerfile_builds_the_wheel_and_installs_it_with_deploy_install_sh() -> None:
    ins = dockerfile()
    args = {a.split("=")[0]: a.split("=", 1)[1] for k, a in ins if k == "ARG" and "=" in a}
    assert args.get("PYTHON_IMAGE") == "python:3.11-slim"
    build_stage, runtime = _stages(ins)
    assert build_stage[0][1].endswith("AS build") and runtime[0][1].endswith("AS runtime")
    runs = [a for k, a in build_stage if k == "RUN"]
    assert any("pip wheel --no-deps -w /dist ." in r for r in runs), runs
    installs = [shlex.split(a) for k, a in runtime if k == "RUN" and "install.sh" in a]
    assert len(installs) == 1
    words = installs[0]
    at = next(i for i, w in enumerate(words) if w.endswith("deploy/install.sh"))
    assert words[at + 1] == "/opt/anxin" and re.fullmatch(r"\S*/anxin-\*\.whl", words[at + 2])
    assert words[at + 3] == "server"  # the live service's set (requirements/server.txt)
    # install.sh finds the lock beside itself: ../requirements/server.txt.
    copies = [a.split() for k, a in runtime if k == "COPY" and "--from" not in a]
    targets = {Path(c[-1]) for c in copies}
    script = next(t for t in targets if t.name == "install.sh")
    assert script.parent.parent / "requirements" / "server.txt" in targets


def test_dockerfile_builds_the_compiled_sm2_verifier() -> None:
    """The wheel built in the image carries the compiled SM2 verifier: the build stage has
    the files setuptools reads (setup.py declares the extension) and a C compiler."""
    build_stage = _stages(dockerfile())[0]
    copied = {w for k, a in build_stage if k == "COPY" for w in a.split()[:-1]}
    assert {"pyproject.toml", "setup.py", "README.md", "LICENSE", "src"} <= copied
    runs = " ".join(a for k, a in build_stage if k == "RUN")
    assert re.search(r"apt-get install .*\bgcc\b", runs) and "libc6-dev" in runs
    assert runs.index("gcc") < runs.index("pip wheel")  # the compiler before the build


def test_dockerfile_copies_only_what_exists_and_is_not_ignored() -> None:
    ignored = [
        p.strip().rstrip("/")
        for p in (REPO / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    for kind, a in dockerfile():
        if kind not in ("COPY", "ADD"):
            continue
        assert kind == "COPY", "ADD fetches and unpacks: COPY only"
        words = [w for w in a.split() if not w.startswith("--")]
        if "--from=" in a:
            continue
        for src in words[:-1]:
            assert (REPO / src).exists(), src
            top = src.split("/")[0]
            assert top not in ignored and src not in ignored, f"{src} is in .dockerignore"


def test_dockerfile_runtime_contract() -> None:
    runtime = _stages(dockerfile())[-1]
    last = {k: a for k, a in runtime}  # the last of each instruction
    user = last["USER"].split(":")[0]
    assert user not in ("", "root", "0"), "the service must not run as root"
    assert json.loads(last["ENTRYPOINT"]) == ["anxin"]
    assert json.loads(last["CMD"]) == ["serve", "--host", "0.0.0.0"]
    assert last["EXPOSE"] == "8080"
    assert json.loads(last["VOLUME"]) == ["/var/lib/anxin"]
    hc = last["HEALTHCHECK"]
    assert "/healthz" in hc and "urllib" in hc and not re.search(r"\b(curl|wget)\b", hc)
    env = " ".join(a for k, a in runtime if k == "ENV")
    assert "/opt/anxin/bin" in env  # the `anxin` of ENTRYPOINT is the venv's
    assert not re.search(r"(TOKEN|PASSWORD|SECRET)\w*=", env), "no secret in the image"
    # Nor a secret key's variable: with ANXIN_<KEY>_FILE given at run time, both would be set.
    for key in ("admin_token", "read_token", "db", "mqtt_url"):
        assert not re.search(rf"\bANXIN_{key.upper()}=", env), key


def test_dockerfile_healthcheck_command_works(live_app: str) -> None:
    """The HEALTHCHECK's own command, run here: 0 against a live service, 1 without one."""
    hc = dict(dockerfile())["HEALTHCHECK"]
    cmd = json.loads(hc[hc.index("CMD") + 3 :].strip())
    assert cmd[0] == "python"
    port = live_app.rsplit(":", 1)[1]
    ok = subprocess.run([sys.executable, *cmd[1:]], env=dict(os.environ, ANXIN_PORT=port), timeout=30)
    assert ok.returncode == 0
    down = subprocess.run(
        [sys.executable, *cmd[1:]], env=dict(os.environ, ANXIN_PORT=str(free_port())), capture_output=True, timeout=30
    )
    assert down.returncode != 0


# ------------------------------------------------------------------ systemd units

UNITS = REPO / "deploy" / "systemd"
HARDENING = {
    "DynamicUser": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "Restart": "on-failure",
}


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values, in order]}} (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in (UNITS / name).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        assert current is not None, line
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.mark.parametrize("name", ["anxin-serve.service", "anxin-edge.service"])
def test_unit_is_hardened(name: str) -> None:
    svc = unit(name)["Service"]
    for key, value in HARDENING.items():
        assert svc.get(key) == [value], (key, svc.get(key))
    assert svc["SystemCallFilter"][0] == "@system-service"
    assert svc["StateDirectory"] and svc["RestartSec"]
    assert unit(name)["Install"]["WantedBy"] == ["multi-user.target"]
    # Secrets come as credentials, never from the environment file or the command line.
    creds = dict(c.split(":", 1) for c in svc["LoadCredential"])
    assert all(p.startswith("/etc/anxin/credentials/") for p in creds.values())
    text = (UNITS / name).read_text()
    for cred in creds:
        assert f"%d/{cred}" in text or f'$CREDENTIALS_DIRECTORY/{cred}"' in text, cred
    assert not re.search(r"--(admin-)?token[ =]", " ".join(svc["ExecStart"]))


def test_serve_unit_upgrades_the_schema_first_and_reads_secrets_from_files() -> None:
    svc = unit("anxin-serve.service")["Service"]
    assert svc["ExecStartPre"] == ["/opt/anxin/bin/anxin db upgrade"]
    assert svc["ExecStart"] == ["/opt/anxin/bin/anxin serve"]
    env = dict(e.split("=", 1) for e in svc["Environment"])
    creds = {c.split(":", 1)[0] for c in svc["LoadCredential"]}
    # The same names as compose.yaml's secrets.
    variables = {"db_url": "ANXIN_DB_FILE", "admin_token": "ANXIN_ADMIN_TOKEN_FILE", "mqtt_url": "ANXIN_MQTT_URL_FILE"}
    assert creds == set(variables) and creds <= set(compose()["secrets"])
    for cred, var in variables.items():
        assert env[var] == f"%d/{cred}"
    assert svc["EnvironmentFile"] == ["/etc/anxin/serve.env"]


def test_edge_unit_keeps_its_outbox_in_its_state_directory() -> None:
    svc = unit("anxin-edge.service")["Service"]
    assert svc["StateDirectory"] == ["anxin-edge"]
    assert svc["ExecStart"] == [
        "/opt/anxin/bin/anxin edge run --outbox %S/anxin-edge/outbox.sqlite --source ${ANXIN_EDGE_SOURCE}"
    ]
    assert svc["LoadCredential"] == ["edge_token:/etc/anxin/credentials/edge_token"]
    assert "ANXIN_EDGE_TOKEN_FILE=%d/edge_token" in svc["Environment"]


@pytest.mark.parametrize("name", ["serve.env.example", "edge.env.example"])
def test_env_examples_hold_no_secret_and_only_known_keys(name: str) -> None:
    import msgspec

    keys = {f.name for f in msgspec.structs.fields(ServeConfig)} | {"forwarded_allow_ips"}
    for raw in (UNITS / name).read_text().splitlines():
        line = raw.lstrip("#").strip()
        m = re.match(r"(ANXIN_[A-Z_]+)=", line)
        if not m:
            continue
        var = m[1]
        assert not re.search(r"TOKEN|PASSWORD|SECRET", var), var
        if name.startswith("serve"):
            assert var.removeprefix("ANXIN_").lower() in keys | {"log"}, var
        else:
            assert var in ("ANXIN_EDGE_SERVER", "ANXIN_EDGE_SOURCE", "ANXIN_LOG"), var


def _units_for_this_machine(tmp_path: Path) -> list[Path]:
    """The units with /opt/anxin (deploy/install.sh's venv) pointing at this test venv."""
    out = []
    for src in sorted(UNITS.glob("*.service")):
        dst = tmp_path / src.name
        dst.write_text(src.read_text().replace("/opt/anxin/", f"{VENV_BIN.parent}/"))
        out.append(dst)
    return out


def test_units_pass_systemd_analyze_verify(tmp_path) -> None:
    exe = tool("systemd-analyze", "systemd")
    units = _units_for_this_machine(tmp_path)
    r = subprocess.run([exe, "verify", "--man=no", *map(str, units)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr


@pytest.mark.parametrize("name", ["anxin-serve.service", "anxin-edge.service"])
def test_units_exposure_is_low(tmp_path, name: str) -> None:
    """systemd-analyze security --offline: 1.3 ('OK') when written; fails above 2.0."""
    exe = tool("systemd-analyze", "systemd")
    path = next(u for u in _units_for_this_machine(tmp_path) if u.name == name)
    r = subprocess.run(
        [exe, "security", "--offline=yes", "--threshold=20", "--no-pager", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr


# ------------------------------------------------------------------ nginx

NGINX = REPO / "deploy" / "nginx" / "anxin.conf"


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "anxin.example.gov.cn")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("anxin.example.gov.cn")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    crt, pem = tmp_path / "fullchain.pem", tmp_path / "key.pem"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return crt, pem


def _nginx_conf(tmp_path: Path, *, upstream: int = 8080, http: int = 80, https: int = 443) -> Path:
    """deploy/nginx/anxin.conf inside a throwaway main configuration: certificate paths to
    a self-signed pair, optionally other ports, everything else as shipped."""
    crt, pem = _self_signed(tmp_path)
    text = NGINX.read_text()
    text = text.replace("/etc/nginx/tls/anxin.fullchain.pem", str(crt)).replace(
        "/etc/nginx/tls/anxin.key.pem", str(pem)
    )
    text = text.replace("/var/www/acme", str(tmp_path / "acme"))
    text = text.replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream};")
    text = re.sub(r"listen 80;", f"listen 127.0.0.1:{http};", text)
    text = re.sub(r"listen \[::\]:80;", "", text)
    text = re.sub(r"listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;", text)
    text = re.sub(r"listen \[::\]:443 ssl http2;", "", text)
    site = tmp_path / "anxin.conf"
    site.write_text(text)
    (tmp_path / "logs").mkdir()
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/logs/error.log;\n"
        "daemon off;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        f"  access_log {tmp_path}/logs/access.log;\n"
        f"  client_body_temp_path {tmp_path}/body;\n"
        f"  proxy_temp_path {tmp_path}/proxy;\n"
        f"  include {site};\n"
        "}\n"
    )
    return main


def _nginx(exe: str, main: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    base = [exe, "-p", str(main.parent), "-e", str(main.parent / "logs" / "error.log"), "-c", str(main)]
    return subprocess.run([*base, *args], capture_output=True, text=True, timeout=60, **kw)


def test_nginx_config_passes_nginx_t(tmp_path) -> None:
    exe = tool("nginx", "nginx")
    r = _nginx(exe, _nginx_conf(tmp_path), "-t")
    assert r.returncode == 0, r.stderr
    assert "test is successful" in r.stderr


def _sse_routes(tmp_path: Path) -> set[str]:
    """The service's Server-Sent Events endpoints: the routes whose handler answers sse(…)."""
    from fastapi.routing import APIRoute

    def walk(routes, prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
        for r in routes:
            if isinstance(r, APIRoute):
                yield prefix + r.path, r
            elif hasattr(r, "original_router"):  # FastAPI's included router, resolved lazily
                yield from walk(r.original_router.routes, prefix + getattr(r.include_context, "prefix", ""))

    _, _, app = build(db=str(tmp_path / "db.sqlite"))
    return {path for path, r in walk(app.routes) if "sse(" in inspect.getsource(r.endpoint)}


def _location(text: str, path: str) -> str:
    m = re.search(r"location = " + re.escape(path) + r" \{(.*?)\}", text, flags=re.S)
    assert m, f"no location = {path}"
    return m[1]


def test_nginx_config_terminates_tls_and_proxies_as_the_service_needs(tmp_path) -> None:
    text = NGINX.read_text()
    assert re.search(r"^\s*ssl_protocols TLSv1\.2 TLSv1\.3;", text, flags=re.M)
    assert not re.search(r"TLSv1(\.1)?\b(?!\.)", text.split("ssl_protocols", 1)[1].split(";")[0])
    assert 'add_header Strict-Transport-Security "max-age=63072000" always;' in text
    assert "server 127.0.0.1:8080;" in text and "proxy_pass http://anxin_serve;" in text
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in text
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in text
    sse = _sse_routes(tmp_path)
    assert {"/v1/alarms/stream", "/console/stream"} <= sse
    for path in sse:
        block = _location(text, path)
        assert "proxy_buffering off;" in block and "proxy_pass http://anxin_serve;" in block, path
        hours = re.search(r"proxy_read_timeout (\d+)h;", block)
        assert hours and int(hours[1]) >= 1, path
    assert "deny all;" in _location(text, "/metrics")
    size = re.search(r"client_max_body_size (\d+)([kmg]?);", text)
    assert size is not None
    factor = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[size[2]]
    assert int(size[1]) * factor == ServeConfig().max_body_bytes


def test_nginx_fronts_a_live_service(tmp_path, live_app: str) -> None:
    """A real nginx with this configuration (other ports, a self-signed certificate) in
    front of a real service: TLS 1.2 and 1.3, HSTS, the redirect, /metrics refused, the
    upload limit, the SSE stream passed through, the client's address forwarded."""
    exe = tool("nginx", "nginx")
    upstream = int(live_app.rsplit(":", 1)[1])
    http, https = free_port(), free_port()
    main = _nginx_conf(tmp_path, upstream=upstream, http=http, https=https)
    proc = subprocess.Popen(
        [exe, "-p", str(tmp_path), "-e", str(tmp_path / "logs" / "error.log"), "-c", str(main)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", https), timeout=1).close()
                return True
            except OSError:
                return False

        wait_for(up, timeout=20, what="nginx")
        base = f"https://127.0.0.1:{https}"
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = ssl.create_default_context(cafile=str(tmp_path / "fullchain.pem"))
            ctx.check_hostname = False
            ctx.minimum_version = ctx.maximum_version = version
            with httpx2.Client(verify=ctx, base_url=base, headers={"Host": "anxin.example.gov.cn"}) as c:
                r = c.get("/healthz")
                assert r.status_code == 200 and r.json() == {"status": "ok"}, version
                assert r.headers["strict-transport-security"] == "max-age=63072000"
        ctx = ssl.create_default_context(cafile=str(tmp_path / "fullchain.pem"))
        ctx.check_hostname = False
        with httpx2.Client(verify=ctx, base_url=base, headers={"Host": "anxin.example.gov.cn"}, timeout=30) as c:
            assert c.get("/metrics").status_code == 403
            assert httpx2.get(live_app + "/metrics").status_code == 200  # on the host it is there
            big = b"x" * (ServeConfig().max_body_bytes + 1)
            r = c.post("/v1/records", content=big, headers={"Content-Type": "application/x-ndjson"})
            assert r.status_code == 413
            # The docs' assets through the proxy.
            assert c.get("/static/vendor/swagger-ui-bundle.js").status_code == 200
            # The SSE stream: its first event line arrives through the proxy at once.
            with c.stream("GET", "/v1/alarms/stream", headers={"Authorization": f"Bearer {ADMIN}"}) as s:
                assert s.status_code == 200
                assert s.headers["content-type"].startswith("text/event-stream")
                first = next(s.iter_lines())
                assert first.startswith(":")
        r = httpx2.get(f"http://127.0.0.1:{http}/console", headers={"Host": "anxin.example.gov.cn"})
        assert r.status_code == 301 and r.headers["location"] == "https://anxin.example.gov.cn/console"
    finally:
        proc.terminate()
        proc.wait(20)


# ------------------------------------------------------------------ Mosquitto


def test_mosquitto_config_refuses_anonymous_and_keeps_stations_apart(tmp_path) -> None:
    """A real Mosquitto with deploy/mosquitto/ (paths and port changed) and the
    accounts deploy/compose-secrets.py makes: no anonymous client; a station publishes its own records, which anxin-serve receives, and cannot
    publish as another station nor read another station's outcomes."""
    broker = tool("mosquitto", "mosquitto")
    import paho.mqtt.client as mqtt

    # The password file as the operator makes it: deploy/compose-secrets.py.
    secrets_dir = tmp_path / "secrets"
    r = subprocess.run(
        [sys.executable, str(REPO / "deploy/compose-secrets.py"), str(secrets_dir), "--mqtt-user", "S0001"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    r2 = subprocess.run(
        [sys.executable, str(REPO / "deploy/compose-secrets.py"), str(secrets_dir), "--mqtt-user", "S0002"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r2.returncode == 0 and "nothing new" in r2.stdout, r2.stdout + r2.stderr
    users = dict(re.findall(r"MQTT account (\S+): password (\S+)", r.stdout + r2.stdout))
    mqtt_url = (secrets_dir / "mqtt_url").read_text().strip()
    m = re.fullmatch(r"mqtt://anxin-serve:([^@]+)@mqtt:1883\?client_id=anxin-serve&prefix=anxin", mqtt_url)
    assert m, mqtt_url
    users["anxin-serve"] = m[1]
    passwd = secrets_dir / "mosquitto_passwd"
    assert sorted(ln.split(":")[0] for ln in passwd.read_text().splitlines()) == ["S0001", "S0002", "anxin-serve"]
    db_url = (secrets_dir / "db_url").read_text().strip()
    assert db_url == f"postgresql://anxin:{(secrets_dir / 'postgres_password').read_text().strip()}@db:5432/anxin"
    port = free_port()
    conf = (REPO / "deploy/mosquitto/mosquitto.conf").read_text()
    conf = conf.replace("/mosquitto/data/", f"{tmp_path}/data/").replace("/run/secrets/mosquitto_passwd", str(passwd))
    conf = conf.replace("/mosquitto/config/acl.conf", str(REPO / "deploy/mosquitto/acl.conf"))
    conf = conf.replace("listener 1883", f"listener {port} 127.0.0.1")
    (tmp_path / "data").mkdir()
    if os.geteuid() == 0:
        conf += "\nuser root\n"  # keep the throwaway broker's files readable
    (tmp_path / "mosquitto.conf").write_text(conf)
    proc = subprocess.Popen([broker, "-c", str(tmp_path / "mosquitto.conf")], stdout=subprocess.PIPE, text=True)
    try:

        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return proc.poll() is not None  # died: fail below

        wait_for(up, timeout=20, what="mosquitto")
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""

        def client(user: str | None) -> tuple[mqtt.Client, list, list]:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{user}", protocol=mqtt.MQTTv5)
            got: list = []
            codes: list = []
            c.on_message = lambda cl, ud, msg: got.append((msg.topic, msg.payload))
            c.on_connect = lambda cl, ud, flags, rc, props: codes.append(rc)
            if user:
                c.username_pw_set(user, users[user])
            c.connect("127.0.0.1", port)
            c.loop_start()
            wait_for(lambda: codes, timeout=10, what=f"CONNACK for {user}")
            return c, got, codes

        anon, _, codes = client(None)
        assert codes[0].is_failure, "anonymous clients must be refused"
        anon.loop_stop()
        serve, serve_got, codes = client("anxin-serve")
        assert not codes[0].is_failure
        serve.subscribe("anxin/+/+", qos=1)
        s2, s2_got, _ = client("S0002")
        s2.subscribe("anxin/S0001/results", qos=1)
        s2.subscribe("anxin/S0002/results", qos=1)
        s1, _, _ = client("S0001")
        time.sleep(0.5)
        s1.publish("anxin/S0001/metering", b"{}", qos=1).wait_for_publish(5)
        s1.publish("anxin/S0002/metering", b"forged", qos=1).wait_for_publish(5)  # denied silently
        serve.publish("anxin/S0001/results", b"ok", qos=1).wait_for_publish(5)
        serve.publish("anxin/S0002/results", b"ok2", qos=1).wait_for_publish(5)
        wait_for(lambda: ("anxin/S0002/results", b"ok2") in s2_got, timeout=10, what="S0002's own result")
        time.sleep(0.5)
        assert ("anxin/S0001/metering", b"{}") in serve_got
        assert not any(p == b"forged" for _, p in serve_got), serve_got
        assert ("anxin/S0001/results", b"ok") not in s2_got, s2_got
        for c in (serve, s1, s2):
            c.disconnect()
            c.loop_stop()
    finally:
        proc.terminate()
        proc.wait(20)


# ------------------------------------------------------------------ the compose demo's station


def test_demo_station_script_loads_the_registry_issues_a_token_and_uploads(tmp_path, live_app: str) -> None:
    """deploy/demo/station.py as compose runs it (here with --once): simulate, load the
    registry and issue the token through the admin API, upload everything via anxin edge."""
    secret = tmp_path / "admin_token"
    secret.write_text(ADMIN + "\n")
    env = dict(
        os.environ,
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        ANXIN_DEMO_SERVER=live_app,
        ANXIN_DEMO_ADMIN_TOKEN_FILE=str(secret),
        ANXIN_DEMO_DIR=str(tmp_path / "demo"),
        ANXIN_DEMO_ONCE="1",
    )
    (tmp_path / "demo").mkdir()
    script = REPO / "deploy" / "demo" / "station.py"
    r = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    token = (tmp_path / "demo" / "station.token").read_text().strip()
    assert token and (tmp_path / "demo" / "station.token").stat().st_mode & 0o077 == 0
    ready = httpx2.get(live_app + "/readyz").json()
    assert ready["status"] == "ready" and ready["ledger_id"] > 0, ready
    # A second start reuses the token and the registry: nothing new to upload.
    r = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "demo" / "station.token").read_text().strip() == token
    assert httpx2.get(live_app + "/readyz").json()["ledger_id"] == ready["ledger_id"]
