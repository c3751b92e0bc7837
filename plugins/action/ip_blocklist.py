# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin of voicehive.remediation.ip_blocklist, which adds client addresses to, or removes them from, the
orchestrator's blocklist ConfigMap.

The module's code runs in the worker process with a local connection (plugins/plugin_utils/_in_process.py).
"""

from __future__ import annotations

from ansible_collections.voicehive.remediation.plugins.module_utils._ip_blocklist import OPERATION
from ansible_collections.voicehive.remediation.plugins.plugin_utils._in_process import KubeOperationAction


class ActionModule(KubeOperationAction):
    MODULE = "voicehive.remediation.ip_blocklist"
    OPERATION = OPERATION
