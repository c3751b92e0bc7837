# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module util is PRIVATE to the voicehive.remediation collection (leading underscore):
# it may change at any time. Do not use it from other collections.

"""IPv4 and IPv6 addresses and networks as text, with the Python standard library alone (no netaddr); shared by the
``ip_blocklist`` module and the ``ip_problems`` and ``ip_in_networks`` filters.

- ``problem()`` / ``problems()``: why a text is not an address or a strict network (``10.0.0.5/24`` has host bits
  set), as a sentence naming what was probably meant; ``parse()`` the network of a valid one.
- ``normalise()``: the text the blocklist holds (compressed, a ``/32`` or ``/128`` written as the plain address).
- ``special_uses()``: the private, loopback, link-local, multicast, reserved or unspecified networks (``SPECIAL``) a
  network overlaps, which should not be blocked.
- ``within()`` and ``overlap()``: containment and overlap across IPv4-mapped IPv6 addresses, ``False`` between an
  IPv4 and an IPv6 network.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t

Network = t.Union[ipaddress.IPv4Network, ipaddress.IPv6Network]  # noqa: UP007 - X | Y needs Python 3.10 at runtime

# Networks not to block, with why, most specific first (the first match names a single address). Defined here rather
# than by ipaddress's is_private & co., which also call documentation networks such as 192.0.2.0/24 private.
SPECIAL: tuple[tuple[Network, str], ...] = tuple(
    (ipaddress.ip_network(net), why)
    for net, why in (
        ("0.0.0.0/32", "unspecified"),
        ("0.0.0.0/8", "reserved (this network)"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "private (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/8", "reserved"),
        ("fc00::/7", "private (unique local)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "reserved (site-local)"),
        ("ff00::/8", "multicast"),
    )
)

_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_IPV4_WITH_PORT_RE = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}")
_BRACKETED_RE = re.compile(r"\[([^\]]*)\](?::\d{1,5})?")
_HOST_NAME_RE = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_-]+)*\.?")
_SEPARATOR_RE = re.compile(r"[,;\s]")


def _network(text: str) -> Network | None:
    """The strict network of ``text``; ``None`` when it is none (or has a zone index)."""
    if "%" in text:
        return None
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        return None


def problem(value: t.Any) -> str | None:
    """Why ``value`` is not an IPv4 or IPv6 address or strict network (CIDR), as a sentence; ``None`` when it is."""
    if not isinstance(value, str):
        return f"{value!r} is not a string; give an IPv4 or IPv6 address or network as text"
    if not value.strip():
        return f"'{value}' is {'blank' if value else 'empty'}; give an IPv4 or IPv6 address or network"
    text = value.strip()
    if text != value:
        inner = problem(text)
        return inner or f"'{value}' has blanks around it; did you mean {text}?"
    if _network(text) is not None:
        return None
    if _SEPARATOR_RE.search(text):
        return f"'{value}' holds several entries; give one address or network per list item"
    if "%" in text:
        return f"'{value}' has a zone index (%{text.split('%', 1)[1]}); give the address without it"
    match = _BRACKETED_RE.fullmatch(text) or _IPV4_WITH_PORT_RE.fullmatch(text)
    if match and _network(match.group(1)) is not None:
        return f"'{value}' has a port or brackets; give the address alone: {match.group(1)}"
    if "/" in text:
        address, _sep, prefix = text.partition("/")
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            loose = None
        if loose is not None:
            return f"'{value}' has host bits set; did you mean {loose}?"
        if _network(address) is not None:
            bits = 32 if ipaddress.ip_address(address).version == 4 else 128
            return f"'{value}' has an invalid prefix length /{prefix}; it must be from /0 to /{bits}"
    if ":" not in text and _HOST_NAME_RE.fullmatch(text):
        return f"'{value}' is a host name; give its IP address (the blocklist matches addresses)"
    return f"'{value}' is not an IPv4 or IPv6 address or network"


def problems(values: t.Iterable[t.Any]) -> list[str]:
    """``problem()`` of each of ``values`` that has one, in order."""
    return [p for p in (problem(v) for v in values) if p is not None]


def parse(value: str) -> Network:
    """The network of a valid address or strict network (a single address is a /32 or /128); ``ValueError`` with
    ``problem()`` as its message otherwise."""
    why = problem(value)
    if why is not None:
        raise ValueError(why)
    return ipaddress.ip_network(value, strict=True)


def normalise(net: Network) -> str:
    """``net`` as the blocklist holds it: compressed, a single address without ``/32`` or ``/128``, an IPv4-mapped
    IPv6 address as ``::ffff:192.0.2.7`` (what Python >= 3.13 prints; older ones print ``::ffff:c000:207``)."""
    address = str(net.network_address)
    if net.version == 6 and net.subnet_of(_IPV4_MAPPED):
        address = f"::ffff:{ipaddress.IPv4Address(int(net.network_address) & 0xFFFFFFFF)}"
    if net.prefixlen == net.max_prefixlen:
        return address
    return f"{address}/{net.prefixlen}"


def unmapped(net: Network) -> Network:
    """An IPv4-mapped IPv6 network (``::ffff:192.0.2.7``) as the IPv4 network it stands for; others as they are."""
    if net.version == 6 and net.subnet_of(_IPV4_MAPPED):
        return ipaddress.IPv4Network((int(net.network_address) & 0xFFFFFFFF, net.prefixlen - 96))
    return net


def within(inner: Network, outer: Network) -> bool:
    """Whether every address of ``inner`` is in ``outer``."""
    inner, outer = unmapped(inner), unmapped(outer)
    return inner.version == outer.version and inner.subnet_of(outer)


def overlap(one: Network, other: Network) -> bool:
    """Whether ``one`` and ``other`` have an address in common."""
    one, other = unmapped(one), unmapped(other)
    return one.version == other.version and one.overlaps(other)


def special_uses(net: Network) -> list[str]:
    """Why ``net`` should not be blocked: ``is private`` for an address or network inside a ``SPECIAL`` network,
    ``overlaps private 10.0.0.0/8`` for each one a larger network overlaps; ``[]`` when none."""
    for special, why in SPECIAL:
        if within(net, special):
            return [f"is {why}" if net.num_addresses == 1 else f"is inside {why} network {special}"]
    overlapped = [(special, why) for special, why in SPECIAL if overlap(net, special)]
    return [
        f"overlaps {why} network {special}"
        for special, why in overlapped
        if not any(other != special and within(special, other) for other, _why in overlapped)
    ]
