# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.voicehive.remediation.plugins.filter.endpoints import FilterModule, tcp_url


@pytest.mark.parametrize(
    "value, default_port, expected",
    [
        ("redis://:s3cret@127.0.0.1:16379/0", None, "tcp://127.0.0.1:16379"),
        ("rediss://user:pw@redis.example.com/0", None, "tcp://redis.example.com:6379"),
        ("http://127.0.0.1:18200", None, "tcp://127.0.0.1:18200"),
        ("https://vault.example.com/v1", None, "tcp://vault.example.com:443"),
        ("http://prometheus.example.com", None, "tcp://prometheus.example.com:80"),
        ("wss://livekit.voicehive.com", None, "tcp://livekit.voicehive.com:443"),
        ("ws://127.0.0.1:17880", None, "tcp://127.0.0.1:17880"),
        ("postgresql://db.example.com/voicehive", None, "tcp://db.example.com:5432"),
        ("127.0.0.1", 15432, "tcp://127.0.0.1:15432"),
        ("db.example.com", "5432", "tcp://db.example.com:5432"),
        ("db.example.com:6432", 5432, "tcp://db.example.com:6432"),
        ("http://[2001:db8::1]:8080/x", None, "tcp://[2001:db8::1]:8080"),
        ("tcp://10.0.0.1:53", None, "tcp://10.0.0.1:53"),
        # nothing usable
        ("", None, ""),
        ("   ", None, ""),
        (None, None, ""),
        ("db.example.com", None, ""),
        ("ftp://files.example.com", None, ""),
        ("http://host:99999", None, ""),
        ("http://", None, ""),
        ("http://bad host:80", None, ""),
        ("db.example.com", "", ""),
    ],
)
def test_tcp_url(value, default_port, expected):
    assert tcp_url(value, default_port) == expected


def test_secrets_of_the_url_are_dropped():
    assert "s3cret" not in tcp_url("redis://admin:s3cret@redis:6379/0")


@pytest.mark.parametrize("value, default_port", [(5432, None), (["x"], None), ("db", "many"), ("db", 0), ("db", True)])
def test_bad_input_fails_clearly(value, default_port):
    with pytest.raises(AnsibleFilterError, match="tcp_url"):
        tcp_url(value, default_port)


def test_filter_is_registered():
    assert FilterModule().filters() == {"tcp_url": tcp_url}
