#!/usr/bin/env python3
"""Create the secret files compose.yaml mounts, with random passwords and tokens.

    python3 deploy/compose-secrets.py [DIR]                  # DIR: ./secrets (beside compose.yaml)
    python3 deploy/compose-secrets.py [DIR] --mqtt-user S0001  # add a station's MQTT account

DIR is made 0700 (only its owner on the host reaches it). Run as root, each file is made
0400 and owned by the user of the container that reads it through its bind mount (anxin
10001, postgres 999, mosquitto 1883, the users of the images compose.yaml names);
otherwise the files are 0644 (readable inside the containers; DIR still keeps others on
the host out). A file that exists is kept: running it again only adds what is missing. The MQTT password of a new station
account is printed once (Mosquitto keeps only its hash). Standard library only.

Files: postgres_password; db_url (postgresql://anxin:<that password>@db:5432/anxin);
admin_token; metrics_token (Prometheus' bearer token for /metrics); mqtt_url (mqtt://anxin-serve:<password>@mqtt:1883?…);
nats_url (nats://nats:4222: the scale-out's NATS, on the compose network; with NATS
accounts, put their credentials in it); cluster_secret (the receivers' and workers' key
for their messages' MACs); mosquitto_passwd
(Mosquitto's password file: PBKDF2-SHA512, as mosquitto_passwd writes it).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import secrets
import sys
from pathlib import Path
from urllib.parse import quote


def mosquitto_hash(password: str) -> str:
    """Mosquitto 2's password-file hash ($7$: PBKDF2-SHA512, 101 iterations, 12-byte salt)."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101)
    return f"$7${101}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


# The container user that reads each file (compose.yaml's images).
READERS = {
    "postgres_password": 999,
    "db_url": 10001,
    "admin_token": 10001,
    "metrics_token": 10001,
    "mqtt_url": 10001,
    "nats_url": 10001,
    "cluster_secret": 10001,
    "mosquitto_passwd": 1883,
}


def protect(path: Path) -> None:
    if os.geteuid() == 0:
        uid = READERS[path.name]
        os.chown(path, uid, uid)
        os.chmod(path, 0o400)
    else:
        os.chmod(path, 0o644)  # whatever the umask


def write(path: Path, text: str) -> bool:
    """Write a new secret file; False if it exists already."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    protect(path)
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", nargs="?", default=str(Path(__file__).resolve().parents[1] / "secrets"))
    ap.add_argument("--mqtt-user", action="append", default=[], help="add a Mosquitto account (a station id)")
    args = ap.parse_args(argv)
    d = Path(args.dir)
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(d, 0o700)

    def token() -> str:
        return secrets.token_urlsafe(32)

    made = []
    pg = d / "postgres_password"
    if write(pg, token() + "\n"):
        made.append(pg.name)
    pg_password = pg.read_text(encoding="utf-8").strip()
    if write(d / "db_url", f"postgresql://anxin:{quote(pg_password, safe='')}@db:5432/anxin\n"):
        made.append("db_url")
    if write(d / "admin_token", token() + "\n"):
        made.append("admin_token")
    if write(d / "metrics_token", token() + "\n"):  # for Prometheus: /metrics needs it from outside
        made.append("metrics_token")
    if write(d / "nats_url", "nats://nats:4222\n"):
        made.append("nats_url")
    if write(d / "cluster_secret", token() + "\n"):
        made.append("cluster_secret")
    passwd = d / "mosquitto_passwd"
    serve_password = token()
    if write(d / "mqtt_url", f"mqtt://anxin-serve:{serve_password}@mqtt:1883?client_id=anxin-serve&prefix=anxin\n"):
        made.append("mqtt_url")
        # A new serve password: its Mosquitto account is (re)written to match.
        lines = [ln for ln in _read(passwd) if not ln.startswith("anxin-serve:")]
        _write_passwd(passwd, [f"anxin-serve:{mosquitto_hash(serve_password)}", *lines])
        made.append("mosquitto_passwd (anxin-serve)")
    elif not passwd.exists():
        print(f"{passwd} is missing but mqtt_url exists: remove mqtt_url to make both again", file=sys.stderr)
        return 1
    for user in args.mqtt_user:
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", user) or user == "anxin-serve":
            print(f"not a station account name: {user!r}", file=sys.stderr)
            return 2
        password = token()
        lines = [ln for ln in _read(passwd) if not ln.startswith(user + ":")]
        _write_passwd(passwd, [*lines, f"{user}:{mosquitto_hash(password)}"])
        print(f"MQTT account {user}: password {password}  (shown once)")
    print(f"{d}: " + (", ".join(made) + " created" if made else "nothing new"))
    return 0


def _read(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def _write_passwd(path: Path, lines: list[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    protect(path)


if __name__ == "__main__":
    sys.exit(main())
