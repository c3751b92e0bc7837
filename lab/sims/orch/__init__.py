"""Implementation of the orchestrator simulator (entry point: :mod:`sims.orchestrator`).

- :mod:`sims.orch.app`: behaviour (checks, PMS through breakers, rate limits, auth, calls, traffic);
- :mod:`sims.orch.breaker`: the Redis-backed circuit breakers;
- :mod:`sims.orch.kubeview`: what it reads from the Kubernetes API;
- :mod:`sims.orch.metrics`: the Prometheus registry;
- :mod:`sims.orch.handler`: the HTTP routes.
"""
