"""docker-compose.yml runs two Tocsin nodes on one PostgreSQL (no container engine here:
the file is parsed and checked for what ``docker compose up`` relies on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

REPO = Path(__file__).resolve().parents[2]
DATA = "/srv/tocsin/data"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text("utf-8"))
    return loaded


def nodes(services: dict[str, Any]) -> dict[str, Any]:
    return {name: s for name, s in services.items() if "serve" in (s.get("command") or [])}


def named_volume(service: dict[str, Any], target: str) -> str:
    for mount in service.get("volumes", []):
        source, _, rest = mount.partition(":")
        if rest.split(":")[0] == target:
            return source
    raise AssertionError(f"nothing mounted at {target}")


def test_postgres_service_has_a_volume_a_healthcheck_and_durable_commits() -> None:
    spec = compose()
    postgres = spec["services"]["postgres"]
    assert postgres["image"].split(":")[0] == "postgres"  # the official image
    assert named_volume(postgres, "/var/lib/postgresql/data") in spec["volumes"]
    check = postgres["healthcheck"]["test"]
    assert "pg_isready" in check
    assert postgres["environment"]["POSTGRES_DB"] == "tocsin"
    settings = " ".join(postgres.get("command", []))
    assert "synchronous_commit=off" not in settings
    assert "fsync=off" not in settings


def test_two_tocsin_nodes_share_the_postgres_store_with_their_own_data() -> None:
    spec = compose()
    found = nodes(spec["services"])
    assert len(found) >= 2, sorted(found)
    data_volumes = set()
    for name, node in found.items():
        store = urlsplit(node["environment"]["TOCSIN_STORE"])
        assert store.scheme == "postgresql", name
        assert store.hostname == "postgres", name
        assert store.path == "/tocsin", name
        assert node["depends_on"]["postgres"]["condition"] == "service_healthy", name
        volume = named_volume(node, DATA)
        assert volume in spec["volumes"], name
        data_volumes.add(volume)
    assert len(data_volumes) == len(found)  # one data directory per node: its lock stays
    ports = [p.split(":")[0] for node in found.values() for p in node.get("ports", [])]
    assert len(ports) == len(set(ports))


def test_every_built_service_has_its_dockerfile() -> None:
    for name, service in compose()["services"].items():
        if "build" in service:
            build = service["build"]
            context = REPO / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get(
                "dockerfile", "Dockerfile")
            assert (context / dockerfile).is_file(), name


def test_prometheus_scrapes_every_node() -> None:
    found = nodes(compose()["services"])
    config = yaml.safe_load((REPO / "config" / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for group in job["static_configs"]
               for t in group["targets"]}
    assert {f"{name}:8080" for name in found} <= targets
