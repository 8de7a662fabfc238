"""The container image and compose file, checked statically (no Docker engine runs in CI)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.main import get_command

from perfhub.cli import app

ROOT = Path(__file__).resolve().parents[1]


def dockerfile_stages() -> list[list[str]]:
    """Instructions per stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_dockerfile_is_multi_stage_installs_the_wheel_and_runs_unprivileged() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    build, runtime = "\n".join(stages[0]), "\n".join(stages[-1])
    assert "--wheel" in build
    assert re.search(r"COPY --from=\w+ \S+\.whl", runtime) and re.search(r"pip install .*\.whl", runtime)
    assert "COPY src" not in runtime  # only the wheel reaches the runtime image
    users = [line.split()[1] for line in stages[-1] if line.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(line.upper().startswith("HEALTHCHECK ") and "/healthz" in line for line in stages[-1])
    for line in stages[0]:
        if line.upper().startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies {source}, which the repo lacks"


def test_compose_builds_this_image_and_runs_real_commands() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    perfhub_services = {
        name: service
        for name, service in compose["services"].items()
        if service.get("image") == "perfhub:latest"
    }
    assert set(perfhub_services) == {"api", "ingest", "normalize", "insights"}
    for name, service in perfhub_services.items():
        build = service["build"]
        assert (ROOT / "deploy" / build["context"] / build["dockerfile"]).is_file()
        assert service["command"][0] == "perfhub" and service["command"][1] in commands, name
        assert "healthcheck" in service, name
