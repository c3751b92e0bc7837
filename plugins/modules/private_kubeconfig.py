#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: private_kubeconfig
short_description: The kubeconfig a run gives its Kubernetes modules, written privately from a host and token
version_added: 0.1.0
description:
  - Modules of the collection and of kubernetes.core only ever get a kubeconfig path, never the API token itself
    (kubernetes.core echoes O(api_key) in its C(-vvv) invocation). With O(kubeconfig) set, this returns it as it is.
    Otherwise it writes a kubeconfig with O(host), O(api_key) and O(ca_cert) to a new temporary directory (mode
    C(0700), the file C(0600)) and returns its path; O(state=absent) removes it at the end of the run.
  - Runs on the controller (an action plugin), where the modules of the playbooks run (they use a local
    connection). The file is the run's own bookkeeping, not a change to a site. It is written in check mode too
    and never reports a change.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Writes and removes in check mode too (the file is the run's, not the site's).
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  state:
    description:
      - V(present) returns O(kubeconfig), or writes one from O(host) and O(api_key); V(absent) removes O(path).
    type: str
    choices: [present, absent]
    default: present
  kubeconfig:
    description: The site's own kubeconfig; when set, nothing is written and this path is returned.
    type: str
    default: ""
  host:
    description: URL of the API server.
    type: str
    default: ""
  api_key:
    description: Bearer token (a secret; it goes into the file only).
    type: str
    default: ""
  ca_cert:
    description: CA certificate (PEM file) of the API server.
    type: path
  validate_certs:
    description: Verify the API server's certificate.
    type: bool
    default: true
  namespace:
    description: Default namespace of the context.
    type: str
    default: default
  name:
    description: Name of the cluster and context (the site).
    type: str
    default: site
  path:
    description:
      - With O(state=absent), the RV(path) an earlier task returned. Only a kubeconfig this plugin wrote is removed.
    type: path
"""

EXAMPLES = r"""
- name: Use the site's kubeconfig, or write a private one from its API host and token
  voicehive.remediation.private_kubeconfig:
    kubeconfig: "{{ voicehive_kubeconfig | default('') }}"
    host: "{{ voicehive_kube_host }}"
    api_key: "{{ voicehive_kube_api_key }}"
    ca_cert: "{{ voicehive_kube_ca_cert }}"
    namespace: voicehive
    name: prod-eu-west-1
  register: run_kubeconfig

- name: Remove it at the end of the run
  voicehive.remediation.private_kubeconfig:
    state: absent
    path: "{{ run_kubeconfig.path }}"
  when: run_kubeconfig.written
"""

RETURN = r"""
path:
  description: The kubeconfig the run's modules use (O(kubeconfig), or the file written).
  returned: always
  type: str
  sample: /tmp/voicehive-remediation-k2j3h4/kubeconfig
written:
  description: Whether a private kubeconfig was written (remove it with O(state=absent)).
  returned: with O(state=present)
  type: bool
  sample: true
removed:
  description: Whether there was something to remove.
  returned: with O(state=absent)
  type: bool
  sample: true
"""
