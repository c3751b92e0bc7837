#!/usr/bin/python
# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: site_info
short_description: Read a VoiceHive site's state once, every component concurrently
version_added: 0.1.0
description:
  - Reads, in one task, what the diagnoses of every category need from a VoiceHive site, the way
    M(ansible.builtin.setup) gathers a host's facts, that is the Kubernetes objects of the site namespace,
    Redis (INFO, the keyspace by family in one bounded C(SCAN), the circuit breakers), PostgreSQL
    (connections, activity, locks, settings, the slowest statements), Prometheus (health, targets,
    alerts, instant queries), Alertmanager (active alerts, routing) and the site's HTTP endpoints
    (health, C(/metrics), Vault, Apaleo, LiveKit) with their latency.
  - A component is read when its option is set. All reads run at the same time, one connection per
    component (one request per Kubernetes list), so the task takes about as long as the slowest read.
  - Never fails because a service is down or unhealthy, as M(community.postgresql.postgresql_ping) does.
    Each component reports C(available) and C(error), and RV(down) names what did not answer with
    the inventory variable it comes from. It fails only on options it cannot use (a kubeconfig that
    cannot be loaded, a Redis URL that cannot be parsed, a missing library), before anything is read.
  - Never returns a secret value. Kubernetes Secrets are not read; environment variables that come from
    a Secret are shown as C(<from secret name/key>); query texts lose their literals.
  - The playbooks of the collection run it once per run (C(roles/voicehive/tasks/start.yml)) and
    register its result as C(voicehive_state); the categories judge from it.
author:
  - VoiceHive SRE (@voicehive)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  timeout:
    description:
      - Seconds each request may take (connect and answer).
    type: float
    default: 5.0
  kubernetes:
    description:
      - Read the Kubernetes objects of O(kubernetes.namespace). Connection settings are resolved as in the
        collection's Kubernetes modules (kubeconfig and context, or host and api_key, or in-cluster).
    type: dict
    suboptions:
      kubeconfig:
        description:
          - Path to a kubeconfig (several joined by the path separator) or a kubeconfig as a dictionary.
          - When neither this nor O(kubernetes.host) is set, E(KUBECONFIG), then C(~/.kube/config), then the
            in-cluster service account are used.
        type: raw
      context:
        description: Context of the kubeconfig to use (default its current context).
        type: str
      host:
        description: URL of the API server; without O(kubernetes.kubeconfig) it is used with O(kubernetes.api_key).
        type: str
      api_key:
        description: Bearer token.
        type: str
      ca_cert:
        description: CA certificate (PEM file) of the API server.
        type: path
      validate_certs:
        description: Verify the API server's certificate (default what the kubeconfig says, else V(true)).
        type: bool
      client_cert:
        description: Client certificate (PEM file).
        type: path
      client_key:
        description: Key of O(kubernetes.client_cert).
        type: path
      namespace:
        description: The site namespace.
        type: str
        required: true
      kinds:
        description:
          - What to list in the namespace. V(pod_metrics) is C(metrics.k8s.io) (usage per pod and container).
        type: list
        elements: str
        choices: [deployments, replicasets, statefulsets, pods, services, endpoints, configmaps,
                  horizontalpodautoscalers, pod_metrics, events]
        default: [deployments, replicasets, statefulsets, pods, services, endpoints, configmaps,
                  horizontalpodautoscalers, pod_metrics, events]
      secrets:
        description:
          - Secrets of the namespace to describe by name (C(get), never C(list)). Values are never returned, only,
            per key, the C(length), a C(fingerprint) (12 hex of sha256) and C(base64_bytes) (when the value is
            itself base64 text, the length it decodes to), under C(data), with the Secret's C(updated) time (its last
            write).
        type: list
        elements: str
        default: []
      events_limit:
        description: How many of the newest events to return.
        type: int
        default: 50
      nodes:
        description:
          - Also list the cluster's nodes (C(/api/v1/nodes), cluster-scoped) with their usage from C(metrics.k8s.io)
            (C(/apis/metrics.k8s.io/v1beta1/nodes)), under C(nodes) of the result. Needs a ClusterRole with C(list) on
            C(nodes) and C(nodes.metrics.k8s.io); without it the read does not fail, C(errors) says C(nodes) or
            C(node_metrics).
        type: bool
        default: false
      other_namespaces:
        description: More namespaces to read (for example C(kube-system) for CoreDNS).
        type: list
        elements: dict
        default: []
        suboptions:
          namespace:
            description: The namespace.
            type: str
            required: true
          kinds:
            description: What to list there (the choices of O(kubernetes.kinds)).
            type: list
            elements: str
            required: true
          label_selector:
            description: Only objects with these labels.
            type: str
      variable:
        description: The inventory variable to name when the API does not answer.
        type: str
        default: voicehive_kube_host
  redis:
    description:
      - Read the orchestrator's Redis. Never C(KEYS). One C(SCAN) pass (bounded by O(redis.max_keys)) counts
        the keys of each family, INFO and DBSIZE come in one pipeline, the breakers in another.
    type: dict
    suboptions:
      url:
        description: Redis URL, V(redis://[[username]:[password]@]host[:port][/db]) or V(rediss://...).
        type: str
        required: true
      validate_certs:
        description: Verify the server certificate when TLS is used.
        type: bool
        default: true
      ca_certs:
        description: CA certificates (PEM file) for TLS.
        type: path
      client_cert:
        description: Client certificate (PEM file) for mutual TLS.
        type: path
      client_key:
        description: Key of O(redis.client_cert).
        type: path
      breaker_prefix:
        description: Prefix of the circuit breaker keys (C(<prefix>:<name>:state), C(<prefix>:<name>:stats)).
        type: str
        default: circuit_breaker
      breaker_names:
        description: Breakers always read, whether the scan found keys for them or not.
        type: list
        elements: str
        default: []
      families:
        description: Key families to count, name to key prefix (the longest matching prefix wins).
        type: dict
        default: {}
      scan_count:
        description: C(COUNT) hint of each C(SCAN) call.
        type: int
        default: 1000
      max_keys:
        description:
          - Stop the scan after examining this many keys. The counts are then lower bounds and each family's
            C(estimate) scales its count to DBSIZE (SCAN visits keys in hash order, a fair sample); breakers
            are then found with a C(MATCH) scan of their prefix, so none is missed.
        type: int
        default: 20000
      sample:
        description: Key names kept per family as a sample.
        type: int
        default: 20
      expect_types:
        description:
          - Family name to the Redis type its keys must have (V(hash) for sessions). The examined keys of these
            families are checked with one pipelined C(TYPE) each (at most 5000 per family); the family then has
            C(types) (counts by type), C(checked), C(unexpected) and C(unexpected_keys).
        type: dict
        default: {}
      secret_families:
        description:
          - Families whose key names hold a secret (a session id, a token id). Their sample and unexpected keys
            are returned as C(<prefix>#<10 hex of sha256>) fingerprints, never as names.
        type: list
        elements: str
        default: []
      rate_limits:
        description:
          - Also read the orchestrator's rate-limit keys and report the usage per client as
            M(voicehive.remediation.rate_limit_info) does, under C(redis.rate_limits).
          - When the site's C(SCAN) pass was complete, the keys are taken from the keys it examined (no other
            C(SCAN)); otherwise they are found with bounded C(SCAN) C(MATCH) calls (O(redis.scan_count) each).
            They are read with pipelined commands, a thousand keys per round trip.
          - The usage is judged against O(redis.rate_limits.limits), overridden per window by the values of
            O(redis.rate_limits.limits_configmap) in the ConfigMap the same task reads.
          - A Redis error in this part leaves the rest of the Redis read; C(redis.rate_limits) then has
            C(available=false) and C(error).
        type: dict
        suboptions:
          key_prefix:
            description: Prefix of the counter keys. The orchestrator uses V(rate_limit).
            type: str
            default: rate_limit
          allowlist_prefix:
            description:
              - Prefix of the allow-list keys, C(<allowlist_prefix>:<ip>) and C(<allowlist_prefix>:<client_id>).
            type: str
            default: rate_limit:whitelist
          limits:
            description:
              - Requests allowed per window name (V(minute=60), V(per_minute=100)), whole numbers of at least 1.
              - Without limits, only a token bucket with less than one token left counts as over the limit.
            type: dict
            default: {}
          limits_configmap:
            description:
              - Take the limits from a ConfigMap of O(kubernetes.namespace), read by the same task (needs
                V(configmaps) in O(kubernetes.kinds)).
              - A missing ConfigMap or key, or a value that is not a whole number of at least 1, leaves the limit
                of O(redis.rate_limits.limits) for that window; C(limits_source) tells which applies.
            type: dict
            suboptions:
              name:
                description: Name of the ConfigMap, for example V(rate-limit-config).
                type: str
                required: true
              keys:
                description:
                  - Window name to the data key of the ConfigMap that holds its limit, for example the key
                    V(requests_per_minute) for both windows V(minute) and V(per_minute).
                type: dict
                required: true
          top:
            description: Number of clients in C(top_clients), the busiest first.
            type: int
            default: 20
          clients:
            description:
              - Client ids always reported in C(clients), for example V(ip:10.0.0.5) or V(user:123).
              - When the scan stopped at O(redis.rate_limits.max_keys), their keys are still read in full.
            type: list
            elements: str
            default: []
          max_keys:
            description:
              - Read at most this many rate-limit and allow-list keys; C(truncated) then says so and the figures
                cover the keys read.
            type: int
            default: 200000
      variable:
        description: The inventory variable to name when Redis does not answer.
        type: str
        default: voicehive_redis_url
  postgres:
    description: Read PostgreSQL over one read-only connection.
    type: dict
    suboptions:
      login_host:
        description: Host of the server.
        type: str
        required: true
      port:
        description: Port of the server.
        type: int
        default: 5432
      login_db:
        description: Database.
        type: str
        default: postgres
      login_user:
        description: Role to log in as (C(pg_read_all_stats) lets it see every session's activity).
        type: str
      login_password:
        description: Its password.
        type: str
      ssl_mode:
        description: libpq C(sslmode).
        type: str
        default: prefer
        choices: [allow, disable, prefer, require, verify-ca, verify-full]
      ca_cert:
        description: CA certificate (PEM file) for C(verify-ca) / C(verify-full).
        type: path
      statements_top:
        description: How many statements of C(pg_stat_statements) (slowest by mean time) and sessions to return.
        type: int
        default: 10
      settings:
        description: Server settings to return.
        type: list
        elements: str
        default: [max_connections, superuser_reserved_connections, shared_buffers, work_mem, effective_cache_size,
                  statement_timeout, idle_in_transaction_session_timeout, lock_timeout, log_min_duration_statement]
      variable:
        description: The inventory variable to name when PostgreSQL does not answer.
        type: str
        default: voicehive_postgres_host
  prometheus:
    description: Read Prometheus (health, configuration reload, active targets, alerts, instant queries).
    type: dict
    suboptions:
      url:
        description: Base URL of Prometheus.
        type: str
        required: true
      validate_certs:
        description: Verify the server certificate.
        type: bool
        default: true
      ca_path:
        description: CA certificate (PEM file).
        type: path
      queries:
        description: Instant queries to run, name to PromQL expression.
        type: dict
        default: {}
      variable:
        description: The inventory variable to name when Prometheus does not answer.
        type: str
        default: voicehive_prometheus_url
  vault:
    description:
      - Read Vault (or OpenBao) with the run's token - seal status (with the unseal threshold), the token's own
        lookup (valid, ttl, policies) and whether each KV v2 path of O(vault.kv_checks) exists (its metadata
        only, never a secret value).
    type: dict
    suboptions:
      url:
        description: Base URL of Vault.
        type: str
        required: true
      token:
        description: The run's Vault token.
        type: str
      validate_certs:
        description: Verify the server certificate.
        type: bool
        default: true
      ca_path:
        description: CA certificate (PEM file).
        type: path
      kv_checks:
        description: KV v2 secrets whose existence to check.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: The key of the result in C(vault.kv) (say a fingerprint when the path holds a secret).
            type: str
            required: true
          mount:
            description: KV v2 mount.
            type: str
            required: true
          path:
            description: Path under the mount; treated as a secret (an API key path holds the key).
            type: str
            required: true
      variable:
        description: The inventory variable to name when Vault does not answer.
        type: str
        default: voicehive_vault_url
  alertmanager:
    description: Read Alertmanager (health, active alerts, the routing tree and receiver names).
    type: dict
    suboptions:
      url:
        description: Base URL of Alertmanager.
        type: str
        required: true
      validate_certs:
        description: Verify the server certificate.
        type: bool
        default: true
      ca_path:
        description: CA certificate (PEM file).
        type: path
      variable:
        description: The inventory variable to name when Alertmanager does not answer.
        type: str
        default: voicehive_alertmanager_url
  route53:
    description:
      - The record sets of one Route53 hosted zone named in O(route53.records) (all their types, with the
        routing fields of failover records) and the health checks in O(route53.health_check_ids) (their
        configuration and what Route53's checkers report), read with boto3 (AWS credentials from the options
        or the usual environment and profile chain).
      - Route53's own health check status is C(reported_healthy); a disaster-recovery check should probe
        the endpoint itself too (moto always reports success).
    type: dict
    suboptions:
      zone_id:
        description: The hosted zone ID (a C(/hostedzone/) prefix is allowed).
        type: str
        required: true
      records:
        description: Record names to read (a trailing dot is optional).
        type: list
        elements: str
        default: []
      health_check_ids:
        description: Health check IDs to read.
        type: list
        elements: str
        default: []
      endpoint_url:
        description: Route53 API endpoint, for an emulator such as moto; unset for AWS.
        type: str
      region:
        description: Region of the API client (Route53 is global).
        type: str
        default: us-east-1
      access_key:
        description: AWS access key ID; unset to use the environment or profile.
        type: str
      secret_key:
        description: AWS secret access key.
        type: str
      session_token:
        description: AWS session token.
        type: str
      variable:
        description: The inventory variable to name when Route53 does not answer.
        type: str
        default: voicehive_route53_zone_id
  http:
    description:
      - Endpoints of the site to read with one C(GET) each (or, for a C(tcp://) or C(ws(s)://) URL, one
        TCP connection), with their latency.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The endpoint's key in RV(http).
        type: str
        required: true
      url:
        description: The URL.
        type: str
        required: true
      expect_status:
        description: HTTP statuses that mean healthy; empty means any answer.
        type: list
        elements: int
        default: [200]
      parse:
        description: Return the body decoded as V(json), or the Prometheus V(metrics) it exposes.
        type: str
        choices: [none, json, metrics]
        default: none
      metrics_prefixes:
        description: With O(http[].parse=metrics), the metric name prefixes whose samples are returned.
        type: list
        elements: str
        default: [voicehive_]
      validate_certs:
        description: Verify the server certificate.
        type: bool
        default: true
      ca_path:
        description: CA certificate (PEM file).
        type: path
      variable:
        description: The inventory variable to name when the endpoint does not answer.
        type: str
requirements:
  - redis >= 5.0.0 when O(redis) is set; psycopg 3 when O(postgres) is set; boto3 when O(route53) is set (the
    Python libraries, on the host that runs the module). The kubernetes library only for a kubeconfig user with
    an exec or auth-provider plugin.
seealso:
  - module: voicehive.remediation.circuit_breaker_info
  - module: voicehive.remediation.endpoint_info
"""

EXAMPLES = r"""
- name: Read the site once
  voicehive.remediation.site_info:
    kubernetes:
      kubeconfig: "{{ voicehive_kubeconfig }}"
      context: "{{ voicehive_kube_context }}"
      namespace: voicehive
    redis:
      url: "{{ voicehive_redis_url }}"
      families: {sessions: "session:", rate_limits: "rate_limit:"}
    postgres:
      login_host: "{{ voicehive_postgres_host }}"
      login_db: voicehive
      login_user: voicehive
      login_password: "{{ voicehive_postgres_password }}"
    prometheus:
      url: "{{ voicehive_prometheus_url }}"
      queries:
        p95_latency: histogram_quantile(0.95, sum(rate(voicehive_request_duration_seconds_bucket[5m])) by (le))
    http:
      - {name: orchestrator_metrics, url: "{{ voicehive_orchestrator_url }}/metrics", parse: metrics}
      - {name: vault_health, url: "{{ voicehive_vault_url }}/v1/sys/health", parse: json}
      - {name: livekit, url: "wss://livekit.voicehive.com"}
  register: voicehive_state

- name: Read the site with the rate-limit usage, judged by the limits of the ConfigMap
  voicehive.remediation.site_info:
    kubernetes:
      namespace: voicehive
      kinds: [pods, configmaps]
    redis:
      url: "{{ voicehive_redis_url }}"
      rate_limits:
        limits: {minute: 60, hour: 1000}
        limits_configmap:
          name: rate-limit-config
          keys: {minute: requests_per_minute, per_minute: requests_per_minute}
        clients: [ip:10.0.0.5]
  register: voicehive_state

- name: Clients at or over their limit
  ansible.builtin.debug:
    msg: "{{ voicehive_state.redis.rate_limits.over_limit }}"
  when: voicehive_state.redis.rate_limits.available

- name: Name what does not answer
  ansible.builtin.debug:
    msg: "{{ item.name }} ({{ item.variable }}): {{ item.error }}"
  loop: "{{ voicehive_state.down }}"

- name: Open circuit breakers
  ansible.builtin.debug:
    msg: "{{ voicehive_state.redis.breakers.open }}"
"""

RETURN = r"""
components:
  description: Per component that was read, whether it answered, how long the read took and why it failed.
  returned: always
  type: dict
  sample:
    kubernetes: {available: true, elapsed_ms: 41.2, error: null}
    redis: {available: false, elapsed_ms: 3.1, error: "Cannot connect to Redis at 127.0.0.1:16379: Connection refused."}
down:
  description:
    - What did not answer, with the inventory variable it comes from.
    - Not called C(unreachable), a result key Ansible reserves.
  returned: always
  type: list
  elements: dict
  sample:
    - name: redis
      variable: voicehive_redis_url
      error: "Cannot connect to Redis at 127.0.0.1:16379: Connection refused."
elapsed_ms:
  description: Wall time of all the reads together.
  returned: always
  type: float
  sample: 84.3
kubernetes:
  description:
    - The site namespace (C(namespace.exists)) and, per kind, the objects by name as compact summaries (a
      Deployment's replicas, conditions, template annotations, containers with image, environment and
      resources; a Pod's phase, readiness, restarts and each container's current and last state; a
      Service's selector and ports; an Endpoints' ready and not-ready addresses; a ConfigMap's data; an
      HPA's bounds and replicas; a pod's metrics in millicores and bytes; every object's C(updated), its last
      write from C(managedFields)). C(secrets) describes the Secrets asked for by name. C(events) has C(total),
      C(warnings) and the C(recent) ones, newest first. C(errors) names the kinds that could not be read.
    - With O(kubernetes.nodes), C(nodes) has each node by name with C(ready), C(unschedulable), C(allocatable) and
      C(capacity) (C(cpu_m), C(memory_bytes)), C(pressure) (the node's C(*Pressure) conditions that are true),
      C(usage) (from C(metrics.k8s.io), C(null) when it did not say) and C(cpu_ratio) / C(memory_ratio) (usage
      against allocatable).
  returned: when O(kubernetes) is set
  type: dict
  sample:
    available: true
    namespace: {name: voicehive, exists: true, phase: Active}
    deployments:
      orchestrator:
        replicas: {desired: 3, current: 3, ready: 3, available: 3, updated: 3, unavailable: 0}
        template:
          annotations: {}
          containers: {orchestrator: {image: voicehive/orchestrator:1.0.0, env: {FALLBACK_MODE: "false"}}}
    errors: {}
    nodes:
      kubesim-node-1:
        ready: true
        unschedulable: false
        allocatable: {cpu_m: 8000, memory_bytes: 33543200768, pods: 110}
        pressure: []
        usage: {cpu_m: 1450, memory_bytes: 3221225472}
        cpu_ratio: 0.181
        memory_ratio: 0.096
redis:
  description:
    - C(available), C(error), C(version), C(memory) (used against C(maxmemory), policy), C(clients),
      C(stats) (evictions, hits, misses), C(dbsize), C(scan) (C(examined), C(complete), per family
      C(count), C(estimate) and C(sample)), C(breakers) (as M(voicehive.remediation.circuit_breaker_info)
      returns them, that is C(breakers), C(open), C(half_open), C(closed), C(invalid)), and C(rate_limits)
      with O(redis.rate_limits).
  returned: when O(redis) is set
  type: dict
  sample:
    available: true
    memory: {used_bytes: 1048576, maxmemory_bytes: 268435456, used_ratio: 0.0039, policy: allkeys-lru}
    scan:
      examined: 120
      complete: true
      families: {sessions: {prefix: "session:", count: 12, estimate: 12, sample: ["session:ab12"]}}
    breakers: {open: [pms_connector], half_open: [], closed: [tts_service]}
    rate_limits:
      available: true
      error: null
      clients:
        "ip:10.0.0.5":
          kind: ip
          exists: true
          key_count: 2
          requests: {minute: 95}
          peak_requests: 95
          utilisation: 0.95
          windows: {minute: {requests: 95, key_count: 2, paths: 2, max_ttl: 60, limit: 100, utilisation: 0.95,
                             over_limit: false}}
          paths: 2
          top_paths: [{path: /api/v1/calls, requests: {minute: 90}}, {path: /health, requests: {minute: 5}}]
          max_ttl: 60
          over_limit: false
          over_limit_windows: []
          allowlisted: false
          allowlist_ttl: null
      top_clients: ["ip:10.0.0.5"]
      over_limit: []
      over_limit_count: 0
      clients_count: 1
      median_requests: {minute: 95}
      allowlist: {"user:123": 3412}
      keys_examined: 3
      truncated: false
      invalid_keys: 0
      invalid: []
      server_time: 1795852987.65
      limits: {hour: 1000, minute: 100}
      limits_source: {hour: option, minute: configmap}
      elapsed_ms: 2.4
  contains:
    rate_limits:
      description:
        - The rate-limit usage, as M(voicehive.remediation.rate_limit_info) returns it (C(clients), C(top_clients),
          C(over_limit), C(over_limit_count), C(clients_count), C(median_requests), C(allowlist), C(keys_examined),
          C(truncated), C(invalid_keys), C(invalid) and C(server_time), described there), with C(available),
          C(error), C(limits), C(limits_source) and C(elapsed_ms).
        - Only C(available), C(error) and C(elapsed_ms) when Redis or this part of the read failed.
      returned: when O(redis.rate_limits) is set
      type: dict
      contains:
        available:
          description: Whether the rate-limit keys were read.
          type: bool
          returned: always
        error:
          description: Why they could not be read (host and port, never the password).
          type: str
          returned: always
        clients:
          description:
            - The clients of C(top_clients) and of O(redis.rate_limits.clients), by client id, each with C(kind),
              C(exists), C(key_count), C(requests), C(peak_requests), C(utilisation), C(windows), C(paths),
              C(top_paths), C(max_ttl), C(over_limit), C(over_limit_windows), C(allowlisted) and C(allowlist_ttl).
          type: dict
          returned: when available
        top_clients:
          description: Up to O(redis.rate_limits.top) client ids, over the limit first, then by utilisation.
          type: list
          elements: str
          returned: when available
        over_limit:
          description: Client ids at or over a limit (at most 1000).
          type: list
          elements: str
          returned: when available
        over_limit_count:
          description: Number of clients at or over a limit.
          type: int
          returned: when available
        clients_count:
          description: Number of distinct clients with counter keys.
          type: int
          returned: when available
        median_requests:
          description: Per window, the median of the clients' requests.
          type: dict
          returned: when available
        allowlist:
          description: The allow-listed clients by client id, and the seconds until their entry expires (V(-1) never).
          type: dict
          returned: when available
        keys_examined:
          description: Number of rate-limit and allow-list keys read.
          type: int
          returned: when available
        truncated:
          description: Whether the keys were cut at O(redis.rate_limits.max_keys).
          type: bool
          returned: when available
        invalid_keys:
          description: Number of malformed keys under the prefixes.
          type: int
          returned: when available
        invalid:
          description: Up to 20 of them, with C(key) and C(reason).
          type: list
          elements: dict
          returned: when available
        server_time:
          description: The Redis server clock (epoch seconds) the sliding windows were counted at.
          type: float
          returned: when available and there were keys
        limits:
          description: The limits applied, window name to requests.
          type: dict
          returned: when available
        limits_source:
          description:
            - Per window of C(limits), where its limit comes from, V(configmap) (O(redis.rate_limits.limits_configmap))
              or V(option) (O(redis.rate_limits.limits)).
          type: dict
          returned: when available
        elapsed_ms:
          description: Time spent on the rate limits (reading and summarising).
          type: float
          returned: always
postgres:
  description:
    - C(available), C(error), C(version), C(in_recovery), C(settings), C(connections) (by state, against
      C(max_connections)), C(activity) (the oldest non-idle sessions, query text without literals),
      C(locks) (granted, waiting) and C(statements) (the slowest by mean time from C(pg_stat_statements)).
  returned: when O(postgres) is set
  type: dict
  sample:
    available: true
    connections: {total: 7, max: 100, used_ratio: 0.07, by_state: {idle: 6, active: 1}}
    statements: {available: true, top: [{query: "SELECT * FROM calls WHERE hotel_id = $1", mean_ms: 12.5, calls: 40}]}
prometheus:
  description:
    - C(available), C(healthy), C(config_reload_success), C(targets) (job, instance, health, last_error), C(alerts),
      C(queries) (per name C(ok), C(samples), C(error)).
  returned: when O(prometheus) is set
  type: dict
  sample:
    available: true
    healthy: true
    targets: [{job: voicehive-orchestrator, instance: "127.0.0.1:18080", health: up, last_error: null}]
    queries: {up: {ok: true, samples: [{labels: {job: voicehive-orchestrator}, value: 1.0}]}}
vault:
  description:
    - C(available), C(sealed), C(initialized), C(threshold) and C(shares) (unseal keys needed and issued),
      C(unseal_progress), C(token) (C(valid), C(ttl), C(policies)), C(kv) (per name C(exists), C(current_version),
      C(updated_time), C(current_deleted), C(error)).
  returned: when O(vault) is set
  type: dict
  sample:
    available: true
    sealed: false
    threshold: 1
    token: {valid: true, ttl: 0, policies: [root]}
    kv: {"api-key vh_live_#3f2a9c01de": {exists: false, error: null}}
alertmanager:
  description:
    - C(available), C(healthy), C(alerts) (active, not silenced), C(config) (routing tree and receiver names only).
  returned: when O(alertmanager) is set
  type: dict
  sample:
    available: true
    alerts: [{name: VoiceHiveHighLatency, state: active, severity: warning}]
    config: {route: {receiver: default, group_wait: 30s, routes: []}, receivers: [default]}
route53:
  description:
    - C(available), C(zone_id), C(records) (per asked name, its record sets with C(type), C(ttl), C(values) and,
      for failover records, C(set_identifier), C(failover), C(health_check_id)) and C(health_checks) (per ID,
      C(exists), C(type), C(address), C(port), C(path), C(disabled), C(inverted), C(reported_healthy)).
  returned: when O(route53) is set
  type: dict
  sample:
    available: true
    zone_id: 76FALWWZ45OUW3XVIRETA1
    records:
      api.voicehive.test: [{name: api.voicehive.test., type: CNAME, ttl: 30, values: [primary.voicehive.test.]}]
    health_checks:
      2a78a747: {exists: true, type: HTTP, address: 127.0.0.1, port: 18080, path: /health, reported_healthy: true}
http:
  description:
    - Per endpoint name, C(url) (credentials masked), C(status), C(reachable) (it answered), C(healthy) (with an
      expected status), C(elapsed_ms), C(error), and C(json) or C(metrics) (samples with C(name), C(labels),
      C(value), C(type)) and C(metric_names) when asked.
  returned: when O(http) is set
  type: dict
  sample:
    orchestrator_metrics:
      url: http://127.0.0.1:18080/metrics
      status: 200
      reachable: true
      healthy: true
      elapsed_ms: 3.2
      error: null
      metrics:
        - {name: voicehive_circuit_breaker_state, labels: {name: pms_connector, state: open}, value: 1.0, type: gauge}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.voicehive.remediation.plugins.module_utils._site_info import (
    SiteInfoError,
    argument_spec,
    down_warnings,
    invalid_options,
    read_site,
)


def run_module(module):
    errors = invalid_options(module.params)
    if errors:
        module.fail_json(msg="Invalid options for site_info: " + "; ".join(errors) + ".")
    try:
        result = read_site(module.params)
    except SiteInfoError as exc:
        module.fail_json(msg=str(exc), **exc.fields)
    for warning in down_warnings(result):
        module.warn(warning)
    module.exit_json(changed=False, **result)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_module(module)


if __name__ == "__main__":
    main()
