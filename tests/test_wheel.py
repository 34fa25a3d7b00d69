"""What users install is what is tested: the built wheel, installed non-editable into
clean virtual environments from the lock (deploy/install.sh, as the Docker image does).

* the server set (anxin[server,sm2]) serves the console, its static files, /docs and
  /redoc with no request leaving the machine (tests/wheel_probe.py, inside a network
  namespace with only loopback where the machine allows one);
* the minimal set (pip install anxin) runs the station's agent and the batch checker
  and has none of the server's dependencies.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from services import need_chromium

import anxin

ROOT = Path(__file__).resolve().parents[1]
SERVER_ONLY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "jinja2",
    "reportlab",
    "openpyxl",
    "segno",
    "argon2",
    "prometheus_client",
    "multipart",
    "tongsuopy",
    "scipy",
)

pytestmark = pytest.mark.xdist_group("wheel")  # one build, shared by the tests of this module


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build = tmp_path_factory.mktemp("build-tree")
    # Built from a copy of the tracked files: what a fresh clone has, nothing of this checkout's own.
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for name in filter(None, files.decode().split("\0")):
        if (ROOT / name).is_file():
            (build / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, build / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), str(build)],
        check=True,
        capture_output=True,
    )
    (found,) = out.glob("anxin-*.whl")
    assert found.name.startswith(f"anxin-{anxin.__version__}-")
    return found


def test_the_wheel_carries_every_file_of_the_package(wheel: Path) -> None:
    """Templates, static files, migrations, the password list…: whatever the package holds
    in git is in the wheel (a file left out of package-data crashes only where it is used)."""
    import zipfile

    tracked = subprocess.run(["git", "ls-files", "src/anxin"], cwd=ROOT, check=True, capture_output=True, text=True)
    want = {name.removeprefix("src/") for name in tracked.stdout.split()}
    have = set(zipfile.ZipFile(wheel).namelist())
    assert not want - have, f"in git but not in the wheel (pyproject package-data): {sorted(want - have)}"


def install(wheel: Path, venv: Path, which: str) -> Path:
    done = subprocess.run(
        ["sh", str(ROOT / "deploy" / "install.sh"), str(venv), str(wheel), which], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return venv / "bin"


def run(*cmd: object, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kw)


def alarm_ids(check_dir: Path) -> list[str]:
    return [json.loads(line)["alarm_id"] for line in (check_dir / "alarms.jsonl").read_text().splitlines()]


def offline(cmd: list[str]) -> list[str]:
    """The command inside a new network namespace with only loopback, where we may make one."""
    probe = run("unshare", "-n", "--", "true") if shutil.which("unshare") else None
    if probe is None or probe.returncode != 0:
        return cmd  # the probe's request log still shows any request that would leave
    return ["unshare", "-n", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *cmd]


def test_the_server_wheel_serves_everything_offline(wheel: Path, tmp_path: Path) -> None:
    need_chromium()
    bin_ = install(wheel, tmp_path / "venv", "server")
    version = run(bin_ / "anxin", "--version")
    assert version.returncode == 0 and anxin.__version__ in version.stdout
    # The command that detects tampering never vouches for a database that isn't there.
    missing = tmp_path / "typo" / "x.sqlite"
    verify = run(bin_ / "anxin", "audit", "verify", "--db", missing)
    assert verify.returncode == 2 and not missing.parent.exists()
    data = tmp_path / "data"
    data.mkdir()
    probe = run(*offline([sys.executable, str(ROOT / "tests" / "wheel_probe.py"), str(tmp_path / "venv"), str(data)]))
    log = (data / "serve.log").read_text(errors="replace") if (data / "serve.log").exists() else ""
    assert probe.returncode == 0, f"{probe.stdout}\n{probe.stderr[-3000:]}\n{log[-3000:]}"
    seen = json.loads(probe.stdout)
    assert seen["external_requests"] == [] and seen["browser_requests"] > 3


def test_the_minimal_install_checks_and_runs_the_station_agent(wheel: Path, tmp_path: Path) -> None:
    bin_ = install(wheel, tmp_path / "venv", "base")
    present = run(
        bin_ / "python", "-c", f"import importlib.util as u; print([m for m in {SERVER_ONLY!r} if u.find_spec(m)])"
    )
    assert present.stdout.strip() == "[]", present.stdout
    assert run(bin_ / "anxin", "--version").returncode == 0
    edge = run(bin_ / "anxin", "edge", "run", "--help")
    assert edge.returncode == 0 and "--outbox" in edge.stdout
    city, out = tmp_path / "city", tmp_path / "check"
    sim = run(bin_ / "anxin", "simulate", city, "--stations", "3", "--days", "2", "--seed", "3")
    assert sim.returncode == 0, sim.stderr[-2000:]
    check = run(bin_ / "anxin", "check", city, "--out", out, "--workers", "0")
    assert check.returncode == 0, check.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["alarms"] > 0 and (out / "meters.jsonl").stat().st_size > 0
    # The same city checked by the full install raises the same alarms.
    full = run(sys.executable, "-m", "anxin.cli", "check", city, "--out", tmp_path / "full", "--workers", "0")
    assert full.returncode == 0
    assert alarm_ids(out) == alarm_ids(tmp_path / "full")  # (evidence floats follow the NumPy version)
    # What needs the server says so, in one line, instead of a traceback.
    serve = run(bin_ / "anxin", "serve", "--db", tmp_path / "x.sqlite")
    assert serve.returncode == 2 and "anxin[server]" in serve.stdout + serve.stderr
