"""``tocsin check-config``: every problem of settings, channels, routes, profiles,
policies and keys at once, each with its file and line; and the shipped example lists
every setting and passes (it exited 2 before: routes named channels it did not have)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from router.cli import main
from router.settings import Settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "tocsin.example.yaml"


def test_every_setting_appears_in_the_example() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields
               if not re.search(rf"^(# ?)?{name}:", text, re.MULTILINE)]
    assert missing == []


def test_the_example_passes(capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert main(["check-config", "--config", str(EXAMPLE)]) == 0
    assert "configuration OK" in capsys.readouterr().out


def _line(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), start=1)
                if needle in line)


def test_every_problem_with_its_file_and_line(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    routes = tmp_path / "routes.yaml"
    routes.write_text("routes:\n  - id: all\n    match: {status: [Actual]}\n"
                      "    channels: [sirens]\ndefault: [archive]\n", encoding="utf-8")
    settings = f"""# a deployment's settings with one mistake of each kind
default_profile: nl-alertt
routes_file: {routes}
channels:
  archive: {{type: file, path: {tmp_path}/a.jsonl}}
  pager: {{type: carrier-pigeon}}
  phones: {{type: eudi_wallet, signing_key_file: {tmp_path}/nope.pem,
           vapid_key_file: {tmp_path}/nope2.pem, vapid_subject: "mailto:a@b.nl"}}
authorities:
  - name: vr
    senders: ["*@vr.nl"]
    area: {{polygons_file: {tmp_path}/missing.geojson}}
    channels: [archive, fax]
"""
    config = tmp_path / "tocsin.yaml"
    config.write_text(settings, encoding="utf-8")
    assert main(["check-config", "--config", str(config)]) == 1
    out = capsys.readouterr().out.splitlines()
    expected = {
        f"{config}:{_line(settings, 'pager:')}: channels.pager: unknown type",
        f"{config}:{_line(settings, 'phones:')}: channels.phones: cannot read",
        f"{routes}:4: routes.0.channels",
        f"{config}:{_line(settings, 'default_profile')}: default_profile: profile 'nl-alertt'",
        f"{config}:{_line(settings, 'channels: [archive, fax]')}: authorities[vr].channels:",
        f"{config}:{_line(settings, 'polygons_file')}: authorities[vr].area.polygons_file:",
    }
    for start in expected:
        assert any(line.startswith(start) for line in out), (start, out)


def test_a_bad_setting_and_bad_yaml_have_lines(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "tocsin.yaml"
    config.write_text("port: 8080\nauthorities:\n  - name: vr\n    senders: ['*']\n"
                      "    key_hashes: ['md5:abc']\n", encoding="utf-8")
    assert main(["check-config", "--config", str(config)]) == 1
    assert capsys.readouterr().out.startswith(f"{config}:5: authorities.0.key_hashes:")
    config.write_text("port: 8080\nchannels: {a: [\n", encoding="utf-8")
    assert main(["check-config", "--config", str(config)]) == 1
    assert capsys.readouterr().out.startswith(f"{config}:3: not valid YAML")
