"""The built wheel, installed alone into a fresh venv, migrates, seeds the demo and serves.

Built from the tracked files only (as a fresh clone would be) and run from a directory with no
source tree around, so nothing can be found by accident outside the installed package.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (
        f"{' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    checkout = work / "checkout"
    tracked = _run(["git", "ls-files", "-z"], ROOT).split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():  # a tracked file deleted in the work tree is not in a clone
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, checkout / name)
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(checkout)],
        work,
    )
    wheel = next((work / "dist").glob("perfhub-*.whl"))
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], work)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], work)
    return venv


def test_wheel_ships_its_migrations_and_templates(installed: Path) -> None:
    code = "import perfhub, importlib.resources as r; print(perfhub.__file__); " + (
        "print(sorted(p.name for p in r.files('perfhub.migrations').joinpath('versions').iterdir()))"
    )
    out = _run([str(installed / "bin" / "python"), "-c", code], installed).splitlines()
    assert out[0].startswith(str(installed))  # the installed copy, not the source tree
    assert "0001_foundation_schema.py" in out[1]


def _sign_in_and_read_today(base: str, athlete: dict[str, str]) -> None:
    """The pages work from the wheel: templates, static files and the vendored chart library."""
    with httpx.Client(base_url=base, headers={"accept": "text/html"}, timeout=10) as browser:
        form = browser.get("/")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert form.status_code == 200 and csrf is not None, form.text[:500]
        signed_in = browser.post(
            "/login",
            data={"email": athlete["email"], "password": athlete["password"], "csrf_token": csrf.group(1)},
            follow_redirects=True,
        )
        assert signed_in.status_code == 200 and signed_in.url.path == "/today", signed_in.text[:500]
        assert "Readiness" in signed_in.text
        for asset in (
            "/static/app.css",
            "/static/vendor/uplot/uPlot.iife.min.js",
            "/static/vendor/htmx/htmx.min.js",
        ):
            assert browser.get(asset).status_code == 200, asset


def test_wheel_upgrades_seeds_and_serves(installed: Path, tmp_path: Path) -> None:
    perfhub = str(installed / "bin" / "perfhub")
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PERFHUB_")},
        "PERFHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'wheel.db'}",
        "PERFHUB_VAR_DIR": str(tmp_path / "var"),
    }
    _run([perfhub, "db", "upgrade"], tmp_path, env)
    out = _run(
        [perfhub, "demo", "--athletes", "2", "--days", "14", "--url", f"http://127.0.0.1:{port}"],
        tmp_path,
        env,
    )
    assert f"http://127.0.0.1:{port}" in out
    credentials = json.loads((tmp_path / "var" / "demo-credentials.json").read_text())
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [perfhub, "serve", "--port", str(port)], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "serve did not become ready"
            time.sleep(0.2)
        token = credentials["athletes"][0]["token"]
        nights = httpx.get(
            f"{base}/api/v1/hrv/daily", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert nights.status_code == 200 and len(nights.json()) >= 7
        _sign_in_and_read_today(base, credentials["athletes"][0])
    finally:
        server.terminate()
        server.wait(15)
    assert f"perfhub serving at http://127.0.0.1:{port}" in (tmp_path / "serve.log").read_text()
