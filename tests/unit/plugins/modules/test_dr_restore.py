# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""dr_restore: documentation and bad input (the round trip with dr_backup is in test_dr_backup.py)."""

from __future__ import annotations

import json

from test_dr_backup import documentation_matches_argument_spec

from ansible_collections.voicehive.remediation.plugins.modules import dr_restore


def test_documentation_matches_argument_spec():
    documentation_matches_argument_spec(dr_restore)


def test_restore_refuses_a_missing_manifest_and_missing_data(run_module, tmp_path):
    result = run_module(dr_restore.main, {"manifest": str(tmp_path / "none.json"), "redis": {"url": "redis://x"}})
    assert result["failed"] and "cannot read the backup manifest" in result["msg"]
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 1, "created_epoch": 1, "redis": {"keys": 0}}))
    target = {"login_host": "h", "login_db": "d", "login_user": "u"}
    result = run_module(dr_restore.main, {"manifest": str(tmp_path / "manifest.json"), "postgres": target})
    assert result["failed"] and "nothing to restore" in result["msg"]
