# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Connection options of the modules that talk to AWX / Automation Controller (the names awx.awx uses).
    # Keep in sync with controller_argument_spec() in plugins/module_utils/_controller.py.
    DOCUMENTATION = r"""
attributes:
  action_group:
    support: full
    membership: [voicehive.remediation.controller]
options:
  controller_host:
    description:
      - URL of the controller, V(https://awx.example.com) (V(https://) is assumed without a scheme).
      - If not set, the value of the E(CONTROLLER_HOST) environment variable is used.
    type: str
    required: true
    aliases: [tower_host]
  controller_oauthtoken:
    description:
      - An OAuth2 / personal access token of a user who may change the objects (sent as a Bearer token).
      - Either this or O(controller_username) and O(controller_password).
      - If not set, the value of the E(CONTROLLER_OAUTH_TOKEN) environment variable is used.
    type: str
    aliases: [tower_oauthtoken]
  controller_username:
    description:
      - User name for HTTP Basic authentication, with O(controller_password).
      - If not set, the value of the E(CONTROLLER_USERNAME) environment variable is used.
    type: str
    aliases: [tower_username]
  controller_password:
    description:
      - Password of O(controller_username).
      - If not set, the value of the E(CONTROLLER_PASSWORD) environment variable is used.
    type: str
    aliases: [tower_password]
  validate_certs:
    description:
      - Whether to verify the controller's TLS certificate.
      - If not set, the value of the E(CONTROLLER_VERIFY_SSL) environment variable is used.
    type: bool
    default: true
    aliases: [verify_ssl]
  request_timeout:
    description:
      - Seconds to wait for each answer of the controller.
    type: float
    default: 10.0
"""
