# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""site_info's Route53 read (records and health checks) with a stand-in boto3 client."""

from __future__ import annotations

import types

from ansible_collections.voicehive.remediation.plugins.module_utils import _site_info as si


class NoSuchHealthCheck(Exception):
    pass


class FakeRoute53:
    exceptions = types.SimpleNamespace(NoSuchHealthCheck=NoSuchHealthCheck)

    def __init__(self, fail=None):
        self.fail = fail
        self.calls = []

    def list_resource_record_sets(self, **kwargs):
        self.calls.append(kwargs)
        if self.fail:
            raise self.fail
        return {
            "ResourceRecordSets": [
                {"Name": "api.example.com.", "Type": "CNAME", "TTL": 30,
                 "ResourceRecords": [{"Value": "p.example.com."}]},
                {"Name": "api.example.com.", "Type": "CNAME", "TTL": 30, "SetIdentifier": "dr", "Failover": "SECONDARY",
                 "ResourceRecords": [{"Value": "dr.example.com."}]},
                {"Name": "other.example.com.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "10.0.0.1"}]},
            ]
        }  # fmt: skip

    def get_health_check(self, HealthCheckId):
        if HealthCheckId == "gone":
            raise NoSuchHealthCheck()
        return {"HealthCheck": {"HealthCheckConfig": {"Type": "HTTP", "IPAddress": "10.0.0.1", "Port": 80,
                                                      "ResourcePath": "/health", "Disabled": False}}}  # fmt: skip

    def get_health_check_status(self, HealthCheckId):
        return {"HealthCheckObservations": [{"StatusReport": {"Status": "Success: HTTP 200"}},
                                            {"StatusReport": {"Status": "Failure: timeout"}}]}  # fmt: skip


def _boto3(client):
    made = {}

    def make(service, **kwargs):
        made.update(kwargs, service=service)
        return client

    return types.SimpleNamespace(client=make), made


CONFIG = types.SimpleNamespace(Config=lambda **kw: kw)
PARAMS = dict(
    zone_id="/hostedzone/Z1",
    records=["api.example.com"],
    health_check_ids=["hc1", "gone"],
    endpoint_url="http://moto:5000",
    region="us-east-1",
    access_key="AK",
    secret_key="SK",
    session_token=None,
    variable="voicehive_route53_zone_id",
)


def test_reads_the_record_sets_and_health_checks():
    client = FakeRoute53()
    boto3, made = _boto3(client)
    out = si.read_route53(boto3, CONFIG, PARAMS, 5.0)
    assert out["available"] and out["zone_id"] == "Z1"
    assert made["endpoint_url"] == "http://moto:5000" and made["aws_access_key_id"] == "AK"
    assert "aws_session_token" not in made
    assert client.calls[0]["StartRecordName"] == "api.example.com."
    sets = out["records"]["api.example.com"]
    assert sets[0] == {"name": "api.example.com.", "type": "CNAME", "ttl": 30, "values": ["p.example.com."]}
    assert sets[1]["failover"] == "SECONDARY" and sets[1]["set_identifier"] == "dr"
    assert len(sets) == 2
    check = out["health_checks"]["hc1"]
    assert check["exists"] and check["port"] == 80 and not check["reported_healthy"]
    assert out["health_checks"]["gone"] == {"exists": False}


def test_a_failing_api_is_reported_not_raised():
    boto3, _fake = _boto3(FakeRoute53(fail=RuntimeError("AccessDenied")))
    out = si.read_route53(boto3, CONFIG, PARAMS, 5.0)
    assert out == {"available": False, "error": "Cannot read Route53 zone Z1: AccessDenied", "zone_id": "Z1"}


def test_route53_is_in_the_argument_spec_with_secrets_hidden():
    spec = si.argument_spec()["route53"]["options"]
    assert spec["secret_key"]["no_log"] and spec["access_key"]["no_log"] and spec["session_token"]["no_log"]
    assert spec["zone_id"]["required"]
