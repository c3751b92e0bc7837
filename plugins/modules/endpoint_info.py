#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: endpoint_info
short_description: Check in one call which of a site's service endpoints accept TCP connections
version_added: 0.1.0
description:
  - Opens a TCP connection to every endpoint in O(endpoints), all at once, and reports which
    answered within O(timeout) seconds. Used by the preflight of every run so that an unreachable
    Redis, PostgreSQL, Vault, Prometheus, orchestrator, Apaleo or LiveKit is named with the
    inventory variable that points at it, before anything acts.
  - An endpoint that does not answer is reported, not failed on, as M(community.postgresql.postgresql_ping)
    does, because a service that is down may be the incident itself.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  endpoints:
    description:
      - The endpoints to check.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - What the endpoint is (for example V(redis)).
        type: str
        required: true
      host:
        description:
          - Host name or address.
        type: str
        required: true
      port:
        description:
          - TCP port.
        type: int
        required: true
      variable:
        description:
          - The inventory variable the endpoint comes from, repeated in the result so that a
            message can say what to fix.
        type: str
  timeout:
    description:
      - Seconds to wait for each connection.
    type: float
    default: 5.0
attributes:
  check_mode:
    support: full
    details:
      - Connecting changes nothing, so the module runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Check the site's services answer
  voicehive.remediation.endpoint_info:
    endpoints:
      - {name: redis, host: redis.voicehive.com, port: 6379, variable: voicehive_redis_url}
      - {name: postgres, host: postgresql.voicehive.com, port: 5432, variable: voicehive_postgres_host}
    timeout: 3
  register: preflight

- name: Show what does not answer
  ansible.builtin.debug:
    msg: "{{ preflight.down }}"
"""

RETURN = r"""
endpoints:
  description: One entry per endpoint, in the order given.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: redis, host: 127.0.0.1, port: 16379, variable: voicehive_redis_url, reachable: true,
       elapsed_ms: 0.4, error: null}
    - {name: postgres, host: 127.0.0.1, port: 15432, variable: voicehive_postgres_host, reachable: false,
       elapsed_ms: 0.2, error: "[Errno 111] Connection refused"}
down:
  description:
    - Names of the endpoints that did not answer. (Not called C(unreachable), a result key Ansible reserves.)
  returned: always
  type: list
  elements: str
  sample: [postgres]
"""

from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.voicehive.remediation.plugins.module_utils._site_read import check_endpoint


def run_module(module: AnsibleModule) -> None:
    endpoints = module.params["endpoints"]
    timeout = module.params["timeout"]
    if timeout <= 0:
        module.fail_json(msg=f"Cannot check endpoints: timeout must be above 0 seconds, got {timeout}.")
    for endpoint in endpoints:
        if not 0 < endpoint["port"] < 65536:
            module.fail_json(
                msg=f"Cannot check endpoint {endpoint['name']}: port {endpoint['port']} is not a TCP port."
            )
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(endpoints)))) as pool:
        results = list(pool.map(lambda e: check_endpoint(e, timeout), endpoints))
    module.exit_json(changed=False, endpoints=results, down=[r["name"] for r in results if not r["reachable"]])


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            endpoints=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    name=dict(type="str", required=True),
                    host=dict(type="str", required=True),
                    port=dict(type="int", required=True),
                    variable=dict(type="str"),
                ),
            ),
            timeout=dict(type="float", default=5.0),
        ),
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
