# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""IPv4 and IPv6 address filters: ip_problems, ip_in_networks.

The checks live in module_utils/_networks.py (the ip_blocklist module uses them too), with the Python standard
library alone. The documentation of each filter is in the matching .yml file.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.voicehive.remediation.plugins.module_utils._networks import parse, problem, problems, within

CLIENT_ID_PREFIX = "ip:"


def ip_problems(values: t.Any) -> list[str]:
    """One message per entry of ``values`` that is not an IPv4 or IPv6 address or strict network; ``[]`` when every
    entry is one."""
    if not isinstance(values, (list, tuple)):
        raise AnsibleFilterError(f"ip_problems: expects a list of addresses or networks, got {type(values).__name__}")
    return problems(values)


def ip_in_networks(address: t.Any, networks: t.Any) -> bool:
    """Whether ``address`` (an address or network, or a client id ``ip:<address>``) lies inside one of ``networks``
    (a whole network, for a network); ``False`` when it is no address."""
    if not isinstance(networks, (list, tuple)):
        raise AnsibleFilterError(
            f"ip_in_networks: networks must be a list of addresses or networks, got {type(networks).__name__}"
        )
    found = problems(networks)
    if found:
        raise AnsibleFilterError("ip_in_networks: invalid networks: " + "; ".join(found))
    if isinstance(address, str) and address.startswith(CLIENT_ID_PREFIX):
        address = address[len(CLIENT_ID_PREFIX) :]
    if problem(address) is not None:
        return False
    net = parse(address)
    return any(within(net, parse(other)) for other in networks)


class FilterModule:
    """Filters on IPv4 and IPv6 addresses and networks."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"ip_problems": ip_problems, "ip_in_networks": ip_in_networks}
