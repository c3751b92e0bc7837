# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Connection options shared by every Redis module of the collection.
    # The attributes are those every one of these modules has (check_mode details are their own).
    # Keep in sync with redis_common_argument_spec() in plugins/module_utils/_redis.py.
    DOCUMENTATION = r"""
attributes:
  action_group:
    support: full
    membership: [voicehive.remediation.redis]
  check_mode:
    support: full
  platform:
    platforms: posix
options:
  url:
    description:
      - Redis URL to connect to, V(redis://[[username]:[password]@]host[:port][/db]) or
        V(rediss://...) for TLS.
      - A V(rediss://) URL turns TLS on whatever O(tls) says.
      - Credentials in the URL take precedence over O(username) and O(password).
      - The URL is treated as a secret; messages only ever show V(host:port).
      - Mutually exclusive with O(host), O(port) and O(db).
    type: str
  host:
    description:
      - Host name or address of the Redis server.
    type: str
    default: localhost
  port:
    description:
      - TCP port of the Redis server.
    type: int
    default: 6379
  db:
    description:
      - Redis logical database number.
    type: int
    default: 0
  username:
    description:
      - ACL user name to authenticate with (Redis 6 and later).
      - Leave unset to authenticate with O(password) only (C(requirepass)).
    type: str
  password:
    description:
      - Password to authenticate with.
      - If not set, the value of the E(REDIS_PASSWORD) environment variable is used.
    type: str
  tls:
    description:
      - Connect with TLS.
      - Unlike the community.general Redis modules this defaults to V(false), because the
        VoiceHive Redis inside the cluster speaks plain TCP; a V(rediss://) O(url) enables it.
    type: bool
    default: false
  validate_certs:
    description:
      - Verify the server certificate when TLS is used.
      - Only turn this off against a lab or a server you control.
    type: bool
    default: true
  ca_certs:
    description:
      - Path to a PEM file with the CA certificates that sign the server certificate.
      - If not set, the system trust store is used.
    type: path
  client_cert:
    description:
      - Path to a PEM client certificate for mutual TLS.
    type: path
  client_key:
    description:
      - Path to the private key of O(client_cert).
    type: path
  connect_timeout:
    description:
      - Seconds to wait for the TCP (and TLS) connection to be established.
    type: float
    default: 5
  socket_timeout:
    description:
      - Seconds to wait for the answer to a command once connected.
    type: float
    default: 10
requirements:
  - redis >= 5.0.0 (the Python library, on the host that runs the module)
notes:
  - The modules never use C(KEYS); key discovery uses C(SCAN) with a bound.
"""
