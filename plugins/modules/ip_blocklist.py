#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ip_blocklist
short_description: Add addresses to, or remove them from, the list of client addresses the orchestrator blocks
version_added: 0.1.0
description:
  - Manages the list of blocked client addresses that the VoiceHive orchestrator reads from key O(key) of the
    ConfigMap O(configmap) in O(namespace) (C(security-config), key C(blocked_ips)), for the remediation of a
    credential brute force or other suspicious activity.
  - The stored value is a list of entries separated by commas or blanks. The orchestrator compares the client
    address with each entry as text, exactly, so entries are written normalised (compressed, lower case, a C(/32) or
    C(/128) network as the plain address). Networks (CIDRs) are valid entries too.
  - Every entry of O(addresses) and O(protected) must be an IPv4 or IPv6 address or a strict network
    (V(10.0.0.5/24) is refused, naming V(10.0.0.0/24)); host names, ports and blanks are refused. All problems are
    reported at once, before anything is read or written.
  - With O(state=present), an entry that is private, loopback, link-local, multicast, reserved or unspecified (or a
    network that overlaps one of those), or that overlaps one of O(protected), is refused with the reason, and the
    task fails without writing anything, unless O(force=true). The networks judged so are C(0.0.0.0/8),
    C(10.0.0.0/8), C(100.64.0.0/10), C(127.0.0.0/8), C(169.254.0.0/16), C(172.16.0.0/12), C(192.168.0.0/16),
    C(224.0.0.0/4), C(240.0.0.0/4), C(::/8) (C(::) and C(::1) included), C(fc00::/7), C(fe80::/10), C(fec0::/10) and
    C(ff00::/8); an IPv4-mapped IPv6 address is judged as its IPv4 address. Documentation networks such as
    C(192.0.2.0/24) are not refused.
  - O(state=present) keeps the existing entries, in their order and as they are written, and appends the new ones
    joined by O(separator), in their normalised form. An entry listed in that form already is not added again and is
    returned in RV(already_blocked). The orchestrator matches a client address against the entries' text exactly,
    so an address inside a listed network (or listed otherwise written, such as C(203.0.113.9/32)) is added, with a
    warning.
  - O(state=absent) removes the entries that are, once normalised, one of O(addresses) (every duplicate of them);
    a network that covers an address is not removed. The remaining entries are written joined by O(separator).
  - Entries of the stored value that are no address or network are kept as they are, returned in
    RV(invalid_existing), with a warning.
  - When the ConfigMap does not exist, O(state=present) creates it (labelled as managed by the collection), and
    O(state=absent) changes nothing. The ConfigMap is replaced with the C(resourceVersion) that was read (its other
    keys, labels and annotations are kept), retrying on conflicts, so a concurrent change is never lost.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - voicehive.remediation.kubernetes
  - voicehive.remediation.kubernetes.in_process
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details:
      - Reads the ConfigMap and reports what would change; writes nothing.
  diff_mode:
    support: full
    details:
      - The diff shows the value of O(key) before and after.
options:
  namespace:
    description:
      - Namespace of the ConfigMap, the site's VoiceHive namespace.
    type: str
    required: true
  configmap:
    description:
      - Name of the ConfigMap the orchestrator reads the blocked addresses from.
    type: str
    default: security-config
  key:
    description:
      - Key of the ConfigMap that holds the blocked addresses.
    type: str
    default: blocked_ips
  addresses:
    description:
      - IPv4 or IPv6 addresses or networks (CIDR, without host bits) to block or unblock, for example
        V(203.0.113.77) or V(2001:db8:7::/48). At least one.
      - A client id of the orchestrator's rate limiter (V(ip:203.0.113.77)) is no address; remove the C(ip:) prefix.
    type: list
    elements: str
    required: true
  state:
    description:
      - V(present) adds the entries of O(addresses) that are not blocked yet.
      - V(absent) removes the entries of O(addresses).
    type: str
    choices: [present, absent]
    default: present
  protected:
    description:
      - Addresses and networks that must never be blocked, for example the allow-listed clients and the site's
        trusted networks. With O(state=present), an entry of O(addresses) that overlaps one of them is refused.
    type: list
    elements: str
    default: []
  force:
    description:
      - Block the entries of O(addresses) even when they are private, loopback or otherwise special, or overlap
        O(protected). The module then warns about each of them.
    type: bool
    default: false
  separator:
    description:
      - What joins the entries when the value is written; a comma, blanks (a space, a newline), or a comma with
        blanks around it, for example V(, ).
    type: str
    default: ","
notes:
  - "RBAC: C(get) and C(update) on the ConfigMap O(configmap) in O(namespace); C(create) on C(configmaps) when it
    may not exist yet."
  - The orchestrator reads the ConfigMap on each request; nothing needs a restart.
seealso:
  - plugin: voicehive.remediation.ip_problems
    plugin_type: filter
  - plugin: voicehive.remediation.ip_in_networks
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Block the addresses of the brute force
  voicehive.remediation.ip_blocklist:
    namespace: voicehive
    addresses: "{{ __security_attackers }}"
    protected: "{{ voicehive_trusted_networks }}"
  register: __security_blocklist

- name: Report what was blocked
  ansible.builtin.debug:
    msg: >-
      Blocked {{ __security_blocklist.added | join(', ') or 'nothing new' }};
      already blocked {{ __security_blocklist.already_blocked | join(', ') or 'none' }}

- name: Unblock a customer blocked by mistake
  voicehive.remediation.ip_blocklist:
    namespace: voicehive
    addresses:
      - 198.51.100.23
    state: absent
"""

RETURN = r"""
blocked:
  description: The entries of O(key) after the run, in order, as the orchestrator reads them (invalid ones included).
  returned: always
  type: list
  elements: str
  sample: ["203.0.113.77", "198.51.100.23"]
added:
  description: The entries appended (would be, in check mode), normalised.
  returned: always
  type: list
  elements: str
  sample: ["198.51.100.23"]
removed:
  description: The entries removed (would be, in check mode), as they were written.
  returned: always
  type: list
  elements: str
  sample: []
already_blocked:
  description:
    - With O(state=present), the entries of O(addresses), normalised, that were not added because the list already
      holds them, written that way.
  returned: always
  type: list
  elements: str
  sample: ["203.0.113.77"]
invalid_existing:
  description: The entries of the stored value that are no IPv4 or IPv6 address or network; they are kept as they are.
  returned: always
  type: list
  elements: str
  sample: ["evil.example.com"]
configmap_existed:
  description: Whether the ConfigMap existed before the run.
  returned: always
  type: bool
  sample: true
before:
  description: The value of O(key) before the run; an empty string when the key or the ConfigMap does not exist.
  returned: always
  type: str
  sample: "203.0.113.77"
after:
  description: The value of O(key) after the run (would be, in check mode); RV(before) when nothing changed.
  returned: always
  type: str
  sample: "203.0.113.77,198.51.100.23"
msg:
  description: What was done, in a sentence.
  returned: always
  type: str
  sample: Blocked 198.51.100.23 in ConfigMap voicehive/security-config key blocked_ips.
diff:
  description: The value of O(key) before and after.
  returned: in diff mode
  type: dict
  sample: {"before": {"blocked_ips": "203.0.113.77"}, "after": {"blocked_ips": "203.0.113.77,198.51.100.23"}}
"""

from ansible_collections.voicehive.remediation.plugins.module_utils._ip_blocklist import OPERATION
from ansible_collections.voicehive.remediation.plugins.module_utils._k8s import operation_main


def main() -> None:
    operation_main(OPERATION)


if __name__ == "__main__":
    main()
