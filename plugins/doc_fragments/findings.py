# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # What the controller-side record modules (finding, record_action, report) share: the
    # secret_values option and their attributes. Each module adds its own check_mode details.
    # Keep in sync with the argument specs of the action plugins (plugins/action/).
    DOCUMENTATION = r"""
options:
  secret_values:
    description:
      - Secret values of the site (tokens, passwords). Every occurrence in what is stored, written or
        returned is replaced by C(********). Values under keys that look secret (C(password), C(secret),
        C(token), C(api_key), C(authorization), C(credential)) and credentials in URLs are always replaced.
    type: list
    elements: raw
    default: []
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: all
"""
