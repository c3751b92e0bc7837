# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Event filter voicehive.remediation.alert_route: one routing key per Alertmanager alert.

DOCUMENTATION:
  short_description: Add voicehive_route ("<status> <alertname>") and voicehive_site to an alert event
  description:
    - Runs after eda.builtin.event_splitter (one event per alert of an Alertmanager webhook post).
    - voicehive_route is the alert's status (firing or resolved) and its alertname label, joined by a space;
      voicehive_site is its site label, else default_site.
    - The rulebooks match that one string (event.voicehive_route == "firing VoiceHiveX") because
      ansible-rulebook 1.3's condition parser with pyparsing 3.3 turns "a and b" into lists its Drools engine
      rejects (ClassCastException); a single comparison is parsed correctly.
    - Events that are not alerts (no labels or status) pass unchanged and match no rule.
  options:
    default_site:
      description: Site for alerts without a site label (empty, then the run refuses to start).
      type: str
      default: ''
"""

from __future__ import annotations

from typing import Any


def main(event: dict[str, Any], default_site: str = "") -> dict[str, Any]:
    """Return the event with voicehive_route and voicehive_site added."""
    labels = event.get("labels")
    if not isinstance(labels, dict) or "status" not in event:
        return event
    event["voicehive_route"] = f"{event.get('status') or ''} {labels.get('alertname') or ''}"
    event["voicehive_site"] = str(labels.get("site") or default_site)
    return event
