# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import hashlib

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.voicehive.remediation.plugins.filter.secrets import FilterModule, fingerprint, vault_kv_checks

KEY = "vh_live_" + "a1b2c3d4e5f6a7b8c9d0e1f2"


def test_fingerprint_shows_a_prefix_and_a_digest_only():
    digest = hashlib.sha256(KEY.encode()).hexdigest()[:10]
    assert fingerprint(KEY, 8) == f"vh_live_#{digest}"
    assert fingerprint(KEY) == f"#{digest}"
    assert fingerprint("short-secret", 8) == "#" + hashlib.sha256(b"short-secret").hexdigest()[:10]


@pytest.mark.parametrize("value, keep", [("", 0), (None, 0), (42, 0), ("x", -1), ("x", 17), ("x", "8")])
def test_fingerprint_refuses_bad_input(value, keep):
    with pytest.raises(AnsibleFilterError, match="fingerprint:"):
        fingerprint(value, keep)


def test_vault_kv_checks():
    checks = vault_kv_checks([KEY], "secret", "api-keys/{id}")
    assert checks == [{"name": fingerprint(KEY, 8), "mount": "secret", "path": f"api-keys/{KEY}"}]
    with pytest.raises(AnsibleFilterError, match="must contain"):
        vault_kv_checks([KEY], "secret", "api-keys")
    with pytest.raises(AnsibleFilterError, match="list of non-empty strings"):
        vault_kv_checks(KEY, "secret", "api-keys/{id}")


def test_exports():
    assert set(FilterModule().filters()) == {"fingerprint", "vault_kv_checks"}
