"""Plugins from Python: install, grant, call, run_due, uninstall — with the
fixture plugin built for wasm32-wasip2 by scripts/test.sh."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import crm

COMMANDS = '["echo", "read", "tag", "remember", "loop", "bomb", "trap", "bad-stage", "ungranted", "fail", "calls"]'


def manifest(wasm: bytes, capabilities: str = '"parties.read", "parties.write", "documents"') -> str:
    return (
        f'name = "fixture"\nversion = "0.1.0"\nwit = "0.1.0"\nsha256 = "{hashlib.sha256(wasm).hexdigest()}"\n'
        f"capabilities = [{capabilities}]\nevents = [\"party.created\"]\ncommands = {COMMANDS}\n"
    )


def test_install_call_grant_and_uninstall(db: crm.Crm, plugins_dir: Path, tmp_path: Path) -> None:
    path = plugins_dir / "crm_plugin_fixture.wasm"
    wasm = path.read_bytes()
    with pytest.raises(crm.PluginError, match="needs capability `parties.read`") as caught:
        db.install_plugin(wasm, manifest(wasm), grants=["documents"])
    assert caught.value.kind == "not_granted" and caught.value.plugin == "fixture"
    toml = tmp_path / "plugin.toml"
    toml.write_text(manifest(wasm), encoding="utf-8")
    meta = db.install_plugin(path, toml, grants=["parties.read", "parties.write", "documents"])
    assert (meta.name, meta.version) == ("fixture", "0.1.0") and "echo" in meta.commands
    assert [p.name for p in db.plugins()] == ["fixture"]
    assert db.call_plugin("fixture", "echo", [1, 2]) == [1, 2]
    assert db.call_plugin("fixture", "echo", "plain text") == "plain text"
    assert db.call_plugin("fixture", "remember") == 1
    assert db.call_plugin("fixture", "remember") == 2
    with pytest.raises(crm.PluginError, match="deadline") as caught:
        db.call_plugin("fixture", "loop")
    assert caught.value.kind == "timeout"
    with pytest.raises(crm.PluginError) as caught:
        db.call_plugin("fixture", "dance")
    assert caught.value.kind == "unknown_command"
    # The change feed reaches it on run_due: it tags new parties.
    p = db.create_party("Zhou")
    due = db.run_due()
    assert due.plugin_events_delivered >= 1 and due.plugin_failures == []
    assert "seen-by-fixture" in db.get_party(p.id).tags
    with pytest.raises(crm.PluginError) as caught:
        db.revoke_plugin("fixture", ["parties.read"])
    assert caught.value.kind == "not_granted"
    db.grant_plugin("fixture", ["documents"])
    assert db.uninstall_plugin("fixture") is True
    assert db.uninstall_plugin("fixture") is False
    assert db.plugins() == []
