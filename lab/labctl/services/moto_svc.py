"""moto_server (Route53 API) on 15000, seeded with the voicehive.test zone and the primary health check.

DNS failover design (written down in lab/README.md): `api.voicehive.test` is a CNAME whose value is
`primary.voicehive.test` (healthy) and becomes `dr.voicehive.test` after a DR failover; both
`primary.voicehive.test` and `dr.voicehive.test` are A records to 127.0.0.1 carrying the site's port
in a TXT record (`_site.<name>` = "port=18080"). A Route53 health check watches the primary's /health.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3

from .. import paths
from .base import Service

PORT = 15000
URL = f"http://{paths.HOST}:{PORT}"
ZONE = "voicehive.test."
RECORD = "api.voicehive.test."
PRIMARY = "primary.voicehive.test."
DR = "dr.voicehive.test."


def client(secrets: dict[str, str] | None = None) -> Any:
    return boto3.client(
        "route53",
        endpoint_url=URL,
        region_name="us-east-1",
        aws_access_key_id=(secrets or {}).get("aws_access_key", "testing"),
        aws_secret_access_key=(secrets or {}).get("aws_secret_key", "testing"),
    )


def zone_id(r53: Any) -> str | None:
    for zone in r53.list_hosted_zones_by_name(DNSName=ZONE)["HostedZones"]:
        if zone["Name"] == ZONE:
            return zone["Id"].split("/")[-1]
    return None


def health_check_id(r53: Any) -> str | None:
    for check in r53.list_health_checks()["HealthChecks"]:
        config = check["HealthCheckConfig"]
        if config.get("Port") == 18080 and config.get("ResourcePath") == "/health":
            return check["Id"]
    return None


def record_changes() -> list[dict[str, Any]]:
    def rrset(name: str, kind: str, value: str, ttl: int = 60) -> dict[str, Any]:
        return {
            "Action": "UPSERT",
            "ResourceRecordSet": {"Name": name, "Type": kind, "TTL": ttl, "ResourceRecords": [{"Value": value}]},
        }

    return [
        rrset(PRIMARY, "A", "127.0.0.1"),
        rrset(DR, "A", "127.0.0.1"),
        rrset(f"_site.{PRIMARY}", "TXT", '"port=18080 site=lab"'),
        rrset(f"_site.{DR}", "TXT", '"port=18090 site=lab-dr"'),
        rrset(RECORD, "CNAME", PRIMARY, ttl=30),
    ]


class MotoService(Service):
    name = "moto"
    port = PORT
    start_timeout = 30.0

    def markers(self) -> list[str]:
        return [f"-p {PORT}", "moto_server"]

    def argv(self, secrets: dict[str, str]) -> list[str]:
        return [paths.PYTHON, str(paths.VENV_BIN / "moto_server"), "-H", paths.HOST, "-p", str(PORT)]

    def healthy(self, secrets: dict[str, str]) -> bool:
        import requests

        return requests.get(f"{URL}/moto-api/data.json", timeout=3).status_code == 200

    def seed(self, secrets: dict[str, str]) -> None:
        r53 = client(secrets)
        zid = zone_id(r53)
        if zid is None:
            zid = r53.create_hosted_zone(
                Name=ZONE,
                CallerReference=f"voicehive-lab-{uuid.uuid4()}",
                HostedZoneConfig={"Comment": "VoiceHive lab zone", "PrivateZone": False},
            )["HostedZone"]["Id"].split("/")[-1]
        r53.change_resource_record_sets(
            HostedZoneId=zid, ChangeBatch={"Comment": "lab seed", "Changes": record_changes()}
        )
        hcid = health_check_id(r53)
        if hcid is None:
            hcid = r53.create_health_check(
                CallerReference=f"voicehive-lab-primary-{uuid.uuid4()}",
                HealthCheckConfig={
                    "IPAddress": "127.0.0.1",
                    "Port": 18080,
                    "Type": "HTTP",
                    "ResourcePath": "/health",
                    "RequestInterval": 10,
                    "FailureThreshold": 3,
                },
            )["HealthCheck"]["Id"]
            r53.change_tags_for_resource(
                ResourceType="healthcheck",
                ResourceId=hcid,
                AddTags=[{"Key": "Name", "Value": "voicehive-lab-primary"}, {"Key": "site", "Value": "lab"}],
            )
        else:
            r53.update_health_check(HealthCheckId=hcid, Disabled=False, Inverted=False)
        info = {
            "zone_id": zid,
            "zone": ZONE,
            "record": RECORD,
            "primary_target": PRIMARY,
            "dr_target": DR,
            "health_check_id": hcid,
            "endpoint_url": URL,
        }
        paths.ROUTE53.write_text(json.dumps(info, indent=2) + "\n")
