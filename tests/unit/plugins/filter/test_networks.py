# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import ipaddress

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.voicehive.remediation.plugins.filter.networks import FilterModule, ip_in_networks, ip_problems
from ansible_collections.voicehive.remediation.plugins.module_utils import _networks


@pytest.mark.parametrize(
    "value",
    ["203.0.113.7", "203.0.113.0/24", "0.0.0.0/0", "10.0.0.5/32", "2001:db8::1", "2001:DB8::/32", "::", "::/0",
     "::ffff:192.0.2.7", "10.0.0.0/255.0.0.0"],
)  # fmt: skip
def test_valid_entries_have_no_problem(value):
    assert ip_problems([value]) == []


@pytest.mark.parametrize(
    "value, message",
    [
        ("10.0.0.5/24", "'10.0.0.5/24' has host bits set; did you mean 10.0.0.0/24?"),
        ("2001:db8::1/64", "'2001:db8::1/64' has host bits set; did you mean 2001:db8::/64?"),
        ("10.0.0.5/255.255.255.0", "'10.0.0.5/255.255.255.0' has host bits set; did you mean 10.0.0.0/24?"),
        ("1.2.3", "'1.2.3' is not an IPv4 or IPv6 address or network"),
        ("256.1.1.1", "'256.1.1.1' is not an IPv4 or IPv6 address or network"),
        ("010.0.0.1", "'010.0.0.1' is not an IPv4 or IPv6 address or network"),
        ("2001:db8::g", "'2001:db8::g' is not an IPv4 or IPv6 address or network"),
        ("", "'' is empty; give an IPv4 or IPv6 address or network"),
        (" \t", "' \t' is blank; give an IPv4 or IPv6 address or network"),
        ("10.0.0.1\n", "'10.0.0.1\n' has blanks around it; did you mean 10.0.0.1?"),
        (" 10.0.0.5/24", "'10.0.0.5/24' has host bits set; did you mean 10.0.0.0/24?"),
        ("example.com", "'example.com' is a host name; give its IP address (the blocklist matches addresses)"),
        ("localhost", "'localhost' is a host name; give its IP address (the blocklist matches addresses)"),
        ("203.0.113.7:443", "'203.0.113.7:443' has a port or brackets; give the address alone: 203.0.113.7"),
        ("[2001:db8::1]:443", "'[2001:db8::1]:443' has a port or brackets; give the address alone: 2001:db8::1"),
        ("[2001:db8::1]", "'[2001:db8::1]' has a port or brackets; give the address alone: 2001:db8::1"),
        ("fe80::1%eth0", "'fe80::1%eth0' has a zone index (%eth0); give the address without it"),
        ("10.0.0.0/33", "'10.0.0.0/33' has an invalid prefix length /33; it must be from /0 to /32"),
        ("2001:db8::/129", "'2001:db8::/129' has an invalid prefix length /129; it must be from /0 to /128"),
        ("10.0.0.0/", "'10.0.0.0/' has an invalid prefix length /; it must be from /0 to /32"),
        ("1.2.3.4 5.6.7.8", "'1.2.3.4 5.6.7.8' holds several entries; give one address or network per list item"),
        ("ip:10.0.0.5", "'ip:10.0.0.5' is not an IPv4 or IPv6 address or network"),
        (42, "42 is not a string; give an IPv4 or IPv6 address or network as text"),
        (None, "None is not a string; give an IPv4 or IPv6 address or network as text"),
    ],
)
def test_ip_problems_messages(value, message):
    assert ip_problems([value]) == [message]


def test_ip_problems_one_message_per_invalid_entry_in_order():
    assert ip_problems(("10.0.0.5/24", "203.0.113.7", "1.2.3")) == [
        "'10.0.0.5/24' has host bits set; did you mean 10.0.0.0/24?",
        "'1.2.3' is not an IPv4 or IPv6 address or network",
    ]
    assert ip_problems([]) == []


@pytest.mark.parametrize("values", ["10.0.0.1", None, {"a": 1}, 42])
def test_ip_problems_refuses_what_is_no_list(values):
    with pytest.raises(AnsibleFilterError, match=r"^ip_problems: expects a list of addresses or networks, got "):
        ip_problems(values)


@pytest.mark.parametrize(
    "address, networks, inside",
    [
        ("10.0.0.5", ["10.0.0.0/8"], True),
        ("ip:10.0.0.5", ["192.0.2.0/24", "10.0.0.0/8"], True),
        ("10.0.0.5", ["10.0.0.5"], True),
        ("10.0.0.5", ["10.0.0.6"], False),
        ("10.1.0.0/16", ["10.0.0.0/8"], True),
        ("10.0.0.0/7", ["10.0.0.0/8"], False),
        ("10.0.0.0/8", ["10.0.0.0/8"], True),
        ("2001:db8::1", ["2001:db8::/32"], True),
        ("2001:db8::1", ["10.0.0.0/8", "::/0"], True),
        ("10.0.0.5", ["::/0"], False),
        ("::ffff:10.0.0.5", ["10.0.0.0/8"], True),
        ("10.0.0.5", ["::ffff:10.0.0.0/104"], True),
        ("10.0.0.5", [], False),
        ("not-an-ip", ["10.0.0.0/8"], False),
        ("ip:", ["10.0.0.0/8"], False),
        ("10.0.0.5/24", ["10.0.0.0/8"], False),
        ("api_key:abc", ["10.0.0.0/8"], False),
        (None, ["10.0.0.0/8"], False),
        (42, ["0.0.0.0/0"], False),
    ],
)
def test_ip_in_networks(address, networks, inside):
    assert ip_in_networks(address, networks) is inside


def test_ip_in_networks_refuses_malformed_networks():
    with pytest.raises(AnsibleFilterError) as caught:
        ip_in_networks("10.0.0.5", ["10.0.0.0/8", "10.0.0.5/24", "nope"])
    assert str(caught.value) == (
        "ip_in_networks: invalid networks: '10.0.0.5/24' has host bits set; did you mean 10.0.0.0/24?; "
        "'nope' is a host name; give its IP address (the blocklist matches addresses)"
    )
    with pytest.raises(AnsibleFilterError, match=r"^ip_in_networks: networks must be a list of addresses or networks"):
        ip_in_networks("10.0.0.5", "10.0.0.0/8")


@pytest.mark.parametrize(
    "value, normal",
    [
        ("10.0.0.5/32", "10.0.0.5"),
        ("2001:DB8:0:0::1/128", "2001:db8::1"),
        ("2001:db8:0::/48", "2001:db8::/48"),
        ("::ffff:c000:207", "::ffff:192.0.2.7"),
        ("::ffff:192.0.2.0/120", "::ffff:192.0.2.0/120"),
        ("10.0.0.0/255.255.0.0", "10.0.0.0/16"),
    ],
)
def test_normalise(value, normal):
    assert _networks.normalise(_networks.parse(value)) == normal


def test_parse_raises_the_problem():
    with pytest.raises(ValueError, match=r"^'10.0.0.5/24' has host bits set; did you mean 10.0.0.0/24\?$"):
        _networks.parse("10.0.0.5/24")
    assert _networks.parse("10.0.0.5") == ipaddress.ip_network("10.0.0.5/32")


def test_exports():
    assert set(FilterModule().filters()) == {"ip_problems", "ip_in_networks"}
