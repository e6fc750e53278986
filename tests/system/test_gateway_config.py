"""docker/: nginx accepts the gateway config (`nginx -t`), its routing, limits and headers agree with DESIGN.md §1 and
the application's settings, compose.yaml describes the reference topology with health checks and no inline secret,
and the Dockerfile runs as a non-root user that owns its data volume."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from receiptcore.entrypoints.http.receipt_upload import upload_body_cap
from receiptcore.settings import Settings
from tests.system.gateway import COMPOSE, DOCKERFILE, NGINX_CONF, nginx_test, write_nginx_conf

_SIZE = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def locations() -> dict[str, str]:
    """Every ``location`` of the server block: its match expression -> its body."""
    text = NGINX_CONF.read_text()
    found: dict[str, str] = {}
    for match in re.finditer(r"location\s+([^{]+?)\s*\{", text):
        depth, end = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        found[match.group(1).strip()] = text[match.end() : end - 1]
    return found


def directive(body: str, name: str) -> str | None:
    match = re.search(rf"^\s*{name}\s+(.+?);", body, flags=re.M)
    return match.group(1) if match else None


def test_nginx_accepts_the_project_config(tmp_path: Path) -> None:
    conf = write_nginx_conf(
        tmp_path,
        listen_port=18080,
        auth=["127.0.0.1:18001", "127.0.0.1:18002"],
        receipts=["127.0.0.1:18003", "127.0.0.1:18004"],
        web_root=tmp_path,
    )
    result = nginx_test(conf)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.mark.parametrize(
    ("path", "upstream"),
    [
        ("/auth/login", "auth_service"),
        ("/auth/refresh", "auth_service"),
        ("/users", "auth_service"),
        ("/users/0190/roles", "auth_service"),
        ("/roles", "auth_service"),
        ("/.well-known/jwks.json", "auth_service"),
        ("/api/receipts", "receipt_service"),
        ("/api/receipts/0190/file", "receipt_service"),
        ("/api/events", "receipt_service"),
        ("/health/ready", "receipt_service"),
        ("/", None),
        ("/receipts/0190", None),  # a client-side route of the web client
    ],
)
def test_routes_follow_the_reference_topology(path: str, upstream: str | None) -> None:
    body = _matching_location(path)
    if upstream is None:
        assert directive(body, "proxy_pass") is None
        assert directive(body, "try_files") == "$uri /index.html"
    else:
        assert directive(body, "proxy_pass") == f"http://{upstream}"


def _matching_location(path: str) -> str:
    """The location nginx picks for ``path`` (exact, then regex in order, then the longest prefix)."""
    locs = locations()
    exact = {k[2:]: v for k, v in locs.items() if k.startswith("= ")}
    if path in exact:
        return exact[path]
    for key, body in locs.items():
        if key.startswith("~ ") and re.search(key[2:], path):
            return body
    prefixes = [k for k in locs if not k.startswith(("= ", "~")) and path.startswith(k)]
    return locs[max(prefixes, key=len)]


def test_login_is_rate_limited_and_events_are_unbuffered() -> None:
    locs = locations()
    assert (directive(locs["= /auth/login"], "limit_req") or "").startswith("zone=login")
    assert directive(NGINX_CONF.read_text(), "limit_req_status") == "429"
    events = locs["= /api/events"]
    assert directive(events, "proxy_buffering") == "off"
    assert directive(events, "proxy_read_timeout") == "1h"


def test_the_body_size_limit_is_the_applications_upload_cap() -> None:
    value = directive(NGINX_CONF.read_text(), "client_max_body_size")
    assert value is not None
    match = re.fullmatch(r"(\d+)([kmg]?)", value.lower())
    assert match is not None, value
    gateway_cap = int(match.group(1)) * _SIZE[match.group(2)]
    assert gateway_cap == upload_body_cap(Settings(_env_file=None))  # type: ignore[call-arg]


def test_the_gateway_sets_forwarded_headers_and_the_services_trust_only_the_gateway() -> None:
    text = NGINX_CONF.read_text()
    headers = dict(re.findall(r"proxy_set_header (\S+) (\S+);", text))
    assert headers["X-Forwarded-For"] == "$remote_addr"  # overwritten, never appended to what a client sent
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert headers["Host"] == "$host"
    compose = yaml.safe_load(COMPOSE.read_text())
    subnet = compose["networks"]["edge"]["ipam"]["config"][0]["subnet"]
    for name in ("auth", "receipts"):
        assert compose["services"][name]["environment"]["RECEIPTCORE_TRUSTED_PROXIES"] == subnet
        assert "edge" in compose["services"][name]["networks"]
    assert compose["services"]["gateway"]["networks"] == ["edge"]
    assert Settings(_env_file=None, trusted_proxies="172.31.250.0/24, 10.0.0.1").trusted_proxies == (  # type: ignore[call-arg]
        "172.31.250.0/24,10.0.0.1"
    )
    with pytest.raises(ValueError, match="not an IP address"):
        Settings(_env_file=None, trusted_proxies="gateway.local")  # type: ignore[call-arg]


def test_the_web_client_gets_security_headers_and_errors_are_problem_documents() -> None:
    root = locations()["/"]
    headers = dict(re.findall(r'add_header (\S+) ("[^"]*"|\S+) always;', root))
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    text = NGINX_CONF.read_text()
    for status in ("413", "429", "503"):
        body = locations()[f"= /_problems/{status}"]
        assert directive(body, "default_type") == "application/problem+json"
        assert re.search(r"^\s*internal;", body, flags=re.M), f"/_problems/{status} must not be reachable directly"
        assert re.search(rf"error_page [0-9 ]*{status}[0-9 ]* /_problems/{status};", text)


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_compose_runs_the_reference_topology_with_health_checks() -> None:
    services = compose()["services"]
    assert set(services) == {"gateway", "auth", "receipts", "worker", "postgres", "mongo", "redis"}
    assert services["receipts"]["deploy"]["replicas"] == 2
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["auth"]["command"] == ["serve", "--service", "auth"]
    assert services["receipts"]["command"] == ["serve", "--service", "receipts"]
    assert services["worker"]["command"] == ["serve", "--service", "worker"]
    assert services["receipts"]["environment"]["RECEIPTCORE_AUTH_URL"] == "http://auth:8000"
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        assert check.get("test"), f"{name} has no health check"
    assert services["gateway"]["depends_on"]["auth"]["condition"] == "service_healthy"
    assert compose()["networks"]["data"]["internal"] is True
    # the keys every auth instance signs with are shared; the databases keep their data in volumes
    assert "signing-keys:/var/lib/receiptcore/keys" in services["auth"]["volumes"]
    assert any(v.startswith("postgres-data:") for v in services["postgres"]["volumes"])
    assert any(v.startswith("mongo-data:") for v in services["mongo"]["volumes"])


_SECRETISH = re.compile(r"(password|secret|api_key|token)(?!_file)", re.I)


def test_compose_holds_no_secret_inline() -> None:
    document = compose()
    for name, service in document["services"].items():
        for key, value in (service.get("environment") or {}).items():
            text = str(value)
            assert not re.search(r"://[^/@\s]*:[^/@\s]*@", text), f"{name}.{key} has credentials in a URL"
            if _SECRETISH.search(key):
                assert text.startswith("/run/secrets/"), f"{name}.{key} must come from a secret file"
    secrets = document["secrets"]
    for name, secret in secrets.items():
        assert set(secret) == {"file"}, name
        assert secret["file"].startswith("./secrets/"), name
    ignore = (COMPOSE.parent / "secrets" / ".gitignore").read_text().split()
    assert "*" in ignore  # the generated secret files never reach version control
    # every service's URLs with credentials come from /run/secrets/receiptcore_* (Settings reads that directory)
    for name in ("auth", "receipts", "worker"):
        wanted = set(document["services"][name]["secrets"])
        assert {"receiptcore_postgres_url", "receiptcore_mongo_url", "receiptcore_redis_url"} <= wanted
    assert Settings.model_config.get("secrets_dir") in (None, "/run/secrets")


def test_secrets_are_read_from_files_named_like_the_variable(tmp_path: Path) -> None:
    (tmp_path / "receiptcore_redis_url").write_text("redis://:pw@redis:6379/0")
    settings = Settings(_env_file=None, _secrets_dir=tmp_path)  # type: ignore[call-arg]
    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value() == "redis://:pw@redis:6379/0"


def test_the_image_runs_as_a_user_that_owns_its_data_volume() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    runtime = lines[lines.index(next(line for line in lines if line.startswith("FROM") and "AS runtime" in line)) :]
    user_at = next(i for i, line in enumerate(runtime) if line.startswith("USER "))
    assert runtime[user_at].split()[1].split(":")[0] == "receiptcore"
    chown_at = next(i for i, line in enumerate(runtime) if "install -d -o receiptcore" in line)
    assert chown_at < user_at
    created = " ".join(runtime[chown_at : chown_at + 3])
    assert "/var/lib/receiptcore/data" in created
    assert "/var/lib/receiptcore/keys" in created
    volume_at = next(i for i, line in enumerate(runtime) if line.startswith("VOLUME"))
    assert volume_at > chown_at
    assert '"/var/lib/receiptcore/data"' in runtime[volume_at]
    for line in lines:
        assert not re.search(r"^(ENV|ARG)\s.*(PASSWORD|SECRET|API_KEY|_URL=\S*@)", line, re.I), line
        assert not (line.startswith("COPY") and re.search(r"secrets|\.env\b|keys", line)), line
    assert sum(1 for line in lines if line.startswith("FROM")) >= 2  # multi-stage
    ignore = (DOCKERFILE.parents[1] / ".dockerignore").read_text().splitlines()
    assert "**" in ignore  # the build context is an allow-list


@pytest.mark.parametrize("location", ["/", "/static/", "/static/vendor/"])
def test_the_gateway_sends_the_web_clients_headers_exactly_as_the_application(location: str) -> None:
    from receiptcore.entrypoints.http.security import WEB_CSP
    from receiptcore.entrypoints.web import routes

    body = locations()[location]
    headers = dict(re.findall(r'add_header (\S+) ("[^"]*"|\S+) always;', body))
    assert headers["Content-Security-Policy"].strip('"') == WEB_CSP
    expected_cache = routes._IMMUTABLE if location == "/static/vendor/" else routes._REVALIDATE
    assert headers["Cache-Control"].strip('"') == expected_cache
    assert headers["X-Content-Type-Options"] == "nosniff"
    if location != "/":
        assert directive(body, "alias") is not None
        assert location.startswith(routes.STATIC_PREFIX + "/")
