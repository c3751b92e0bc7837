"""Orchestrator simulator: the VoiceHive FastAPI orchestrator as the lab needs it.

Run: ``PYTHONPATH=lab .venv/bin/python -m sims.orchestrator --config orchestrator.json``

Config keys (JSON object):

- ``host`` (127.0.0.1), ``port`` (18080 primary / 18090 DR), ``site`` (``lab``), ``role``
  (``primary``|``dr``; default ``dr`` when the site ends in ``-dr``), ``namespace`` (``voicehive``),
  ``deployment`` (``orchestrator``), ``pod_selector`` (``app=orchestrator``), ``lab_token``;
- ``log_file`` (alias ``app_log``): application log (``lab/.state/orchestrator/<site>.log``),
  ``app_log_max_bytes`` (4 MiB, then moved to ``<file>.1``);
- ``redis_url`` (with password); ``database_url`` (alias ``postgres_dsn``) or ``postgres``
  (``host``, ``port``, ``dbname``, ``user``, ``password``);
- ``vault``: ``url``, ``token``, ``kv_mount`` (``voicehive``), ``api_key_mount`` (``secret``)
  (aliases ``vault_addr``/``vault_token``);
- ``apaleo``: ``identity_url``, ``api_url`` (or ``url``), ``hotel_id``, ``property_id``;
- ``livekit``: ``url`` (used when ConfigMap ``livekit-config`` has no ``server_url``), ``api_key``,
  ``api_secret``;
- ``kube``: ``server``, ``token`` (or ``token_file``), ``ca_file``, ``timeout``; ``kube_refresh_seconds`` (2);
- ``jwt_secret``: only used while Kubernetes has never been readable; ``api_key``: the key the
  background traffic sends to ``/webhooks/apaleo``;
- ``traffic``: ``enabled`` (true), ``interval`` (0.5 s), ``client_ips``;
- ``defaults``: ``requests_per_minute`` 60, ``failure_threshold`` 5, ``success_threshold`` 3,
  ``max_connections`` 20, ``cache_ttl`` 300, ``brute_force_threshold`` 20 (per IP per minute),
  ``call_duration`` 6 s — used when the ConfigMaps do not say.
"""

from __future__ import annotations

from typing import Any

from sims.common import KubeReader, LabHTTPServer, load_config, parse_args, serve, setup_logging
from sims.orch.app import Orchestrator
from sims.orch.handler import OrchestratorHandler
from sims.orch.metrics import Metrics


class OrchestratorServer(LabHTTPServer):
    """The HTTP server; starts the orchestrator's background work once bound."""

    app: Orchestrator

    def server_activate(self) -> None:
        """Listen, then start the Kubernetes poller and the traffic loop against our own address."""
        super().server_activate()
        host, port = self.server_address[:2]
        self.app.start(f"http://{host}:{port}")


def build_server(cfg: dict[str, Any], kube: KubeReader | None = None) -> OrchestratorServer:
    """Create (and start the background work of) an orchestrator simulator."""
    orch = Orchestrator(cfg, kube=kube)
    Metrics(orch)
    return OrchestratorServer((cfg.get("host", "127.0.0.1"), int(cfg.get("port", 18080))), OrchestratorHandler, orch)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    args = parse_args("VoiceHive lab orchestrator simulator", argv)
    cfg = load_config(args.config)
    setup_logging(cfg.get("log_level", "INFO"))
    server = build_server(cfg)
    serve(server, f"orchestrator-{server.app.site}", on_stop=server.app.stop)


if __name__ == "__main__":
    main()
