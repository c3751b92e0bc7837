"""kubesim's decoder of kubectl's protobuf request bodies (hand-encoded messages)."""

from __future__ import annotations

import pytest

from kubesim.protobuf import ProtobufError, decode


def _varint(n: int) -> bytes:
    out = b""
    n &= (1 << 64) - 1
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def _ld(num: int, data: bytes | str) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return _varint(num << 3 | 2) + _varint(len(raw)) + raw


def _vi(num: int, value: int) -> bytes:
    return _varint(num << 3) + _varint(value)


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + _ld(1, _ld(1, api_version) + _ld(2, kind)) + _ld(2, raw)


def test_configmap() -> None:
    meta = _ld(1, "cfg") + _ld(3, "voicehive") + _ld(11, _ld(1, "app") + _ld(2, "x")) + _ld(6, "")
    body = _envelope("v1", "ConfigMap", _ld(1, meta) + _ld(2, _ld(1, "k") + _ld(2, "v")))
    assert decode(body) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "voicehive", "labels": {"app": "x"}},
        "data": {"k": "v"},
    }


def test_secret_bytes_and_deployment_replicas_zero() -> None:
    secret = decode(
        _envelope("v1", "Secret", _ld(1, _ld(1, "s")) + _ld(2, _ld(1, "k") + _ld(2, b"v")) + _ld(3, "Opaque"))
    )
    assert secret["data"] == {"k": "dg=="} and secret["type"] == "Opaque"
    container = _ld(1, "web") + _ld(2, "nginx") + _ld(6, _vi(3, 80))
    template = _ld(1, _ld(11, _ld(1, "app") + _ld(2, "web"))) + _ld(2, _ld(2, container))
    spec = _vi(1, 0) + _ld(2, _ld(1, _ld(1, "app") + _ld(2, "web"))) + _ld(3, template)
    dep = decode(_envelope("apps/v1", "Deployment", _ld(1, _ld(1, "web")) + _ld(2, spec)))
    assert dep["spec"]["replicas"] == 0
    assert dep["spec"]["template"]["spec"]["containers"] == [
        {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}
    ]


def test_access_review_and_token_request() -> None:
    attrs = _ld(1, "voicehive") + _ld(2, "delete") + _ld(5, "pods")
    review = decode(_envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", _ld(2, _ld(1, attrs))))
    assert review["spec"]["resourceAttributes"] == {"namespace": "voicehive", "verb": "delete", "resource": "pods"}
    req = decode(_envelope("authentication.k8s.io/v1", "TokenRequest", _ld(2, _ld(1, "vault") + _vi(4, 600))))
    assert req["spec"] == {"audiences": ["vault"], "expirationSeconds": 600}


def test_unknown_kind_and_garbage() -> None:
    with pytest.raises(ProtobufError):
        decode(_envelope("apps/v1", "DaemonSet", b""))  # kubectl never sends one
    with pytest.raises(ProtobufError):
        decode(b"{}")
