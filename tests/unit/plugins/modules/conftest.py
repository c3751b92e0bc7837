# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make ``ansible_collections.voicehive.remediation`` importable when pytest runs from a checkout.

``make setup`` links the checkout as ``.collections/ansible_collections/voicehive/remediation``;
this puts ``.collections`` on ``sys.path`` (and makes the link if it is missing). A no-op when the
collection is already importable (installed, or set up by a parent conftest).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[4]


def _bootstrap() -> None:
    try:
        if importlib.util.find_spec("ansible_collections.voicehive.remediation.plugins") is not None:
            return
    except ImportError:
        pass
    link = _ROOT / ".collections" / "ansible_collections" / "voicehive" / "remediation"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink("../../..", link)
    sys.path.insert(0, str(_ROOT / ".collections"))


_bootstrap()
