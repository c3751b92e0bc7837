# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.voicehive.remediation.plugins.filter.quantities import FilterModule, memory_bytes


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2Gi", 2 * 2**30),
        ("512Mi", 512 * 2**20),
        ("1000Mi", 1000 * 2**20),
        ("64Ki", 64 * 1024),
        ("1G", 10**9),
        ("1.5Gi", 3 * 2**29),
        ("1e9", 10**9),
        (" 1Gi ", 2**30),
        ("1073741824", 2**30),
        (1073741824, 2**30),
        (1.5e9, 1500000000),
    ],
)
def test_quantities_are_read_as_bytes(value, expected):
    assert memory_bytes(value) == expected


@pytest.mark.parametrize(
    "value", [None, True, False, "", "lots", "2 Gi", "2GB", "-1Gi", "0", 0, "500m", "3u", "1n", [1]]
)
def test_what_is_no_positive_memory_quantity_is_none(value):
    assert memory_bytes(value) is None


def test_the_filter_is_registered():
    assert FilterModule().filters() == {"memory_bytes": memory_bytes}
