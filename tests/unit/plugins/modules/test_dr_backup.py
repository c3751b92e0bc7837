# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""dr_backup: documentation, bad input, and a Redis backup restored by dr_restore into another database of a
private redis-server (check mode, restore, verify, second run unchanged, a damaged backup refused)."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from ansible_collections.voicehive.remediation.plugins.modules import dr_backup, dr_restore


def documentation_matches_argument_spec(module):
    """Shared with test_dr_restore.py (imported by name, like redis_fakes)."""
    doc = yaml.safe_load(module.DOCUMENTATION)["options"]
    spec = module.argument_spec()
    assert sorted(doc) == sorted(spec)
    for name, option in spec.items():
        assert doc[name]["type"] == option["type"], name
        assert doc[name].get("default") == option.get("default"), name
        assert doc[name].get("required", False) == option.get("required", False), name
        for sub, sub_option in option.get("options", {}).items():
            assert doc[name]["suboptions"][sub]["type"] == sub_option["type"], (name, sub)
            assert doc[name]["suboptions"][sub].get("default") == sub_option.get("default"), (name, sub)
    for section in ("EXAMPLES", "RETURN"):
        assert yaml.safe_load(getattr(module, section))


def test_documentation_matches_argument_spec():
    documentation_matches_argument_spec(dr_backup)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"label": "../etc", "redis": {"url": "redis://x"}}, "label"),
        ({"label": "lab", "max_keys": 0, "redis": {"url": "redis://x"}}, "max_keys"),
        ({"label": "lab"}, "one of the following is required"),
    ],
)
def test_backup_refuses_bad_input(run_module, tmp_path, args, message):
    result = run_module(dr_backup.main, dict(args, backup_dir=str(tmp_path)))
    assert result["failed"] and message in result["msg"]
    assert os.listdir(tmp_path) == []


def test_redis_backup_and_restore_round_trip(run_module, redis_server, redis_db, tmp_path):
    base = f"redis://:{redis_server['password']}@{redis_server['host']}:{redis_server['port']}"
    redis_db.hset("session:abc", mapping={"user": "1"})
    redis_db.set("circuit_breaker:pms:state", "open", ex=3600)
    redis_db.rpush("queue", "a", "b")
    check = run_module(dr_backup.main, {"backup_dir": str(tmp_path), "label": "lab", "redis": {"url": base + "/0"}},
                       check_mode=True)  # fmt: skip
    assert check["changed"] and check["manifest"]["redis"]["keys"] == 3 and os.listdir(tmp_path) == []
    backup = run_module(dr_backup.main, {"backup_dir": str(tmp_path), "label": "lab", "redis": {"url": base + "/0"}})
    assert backup["summary"]["redis_keys"] == 3
    assert json.loads((tmp_path / "latest-lab.json").read_text())["manifest_path"] == backup["manifest_path"]
    assert oct(os.stat(backup["manifest_path"]).st_mode & 0o777) == "0o600"
    assert redis_server["password"] not in json.dumps(backup)

    args = {"manifest": backup["manifest_path"], "redis": {"url": base + "/1"}}
    would = run_module(dr_restore.main, args, check_mode=True, diff=True)
    assert would["changed"] and not would["verified"] and would["redis"]["differ_before"] == 3
    assert would["diff"]["before"]["redis_keys_differing"] == 3
    done = run_module(dr_restore.main, args)
    assert done["changed"] and done["verified"] and done["redis"]["restored"] == 3
    again = run_module(dr_restore.main, args)
    assert not again["changed"] and again["verified"] and again["redis"]["restored"] == 0

    import redis

    other = redis.Redis(host=redis_server["host"], port=redis_server["port"], password=redis_server["password"], db=1)
    try:
        assert other.hgetall("session:abc") == {b"user": b"1"}
        assert 3500 < other.ttl("circuit_breaker:pms:state") <= 3600
        assert other.lrange("queue", 0, -1) == [b"a", b"b"]
    finally:
        other.flushdb()
        other.close()

    (tmp_path / os.path.basename(backup["path"]) / "redis.jsonl").write_text("tampered\n")
    damaged = run_module(dr_restore.main, args)
    assert damaged["failed"] and "checksum" in damaged["msg"]
