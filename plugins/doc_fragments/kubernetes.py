# Copyright: (c) 2026, VoiceHive SRE
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Kubernetes connection options shared by the collection's Kubernetes modules.
    # The names are those of kubernetes.core, so one module_defaults block serves both.
    # The attributes are those every one of these modules has (check_mode details are their own).
    # Keep in sync with k8s_common_argument_spec() in plugins/module_utils/_k8s.py.
    # Which Python library a module needs is in its own documentation (requirements).
    DOCUMENTATION = r"""
attributes:
  action_group:
    support: full
    membership: [voicehive.remediation.kubernetes]
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, or the kubeconfig content as a dictionary.
      - If neither this, O(context), O(host) nor O(api_key) is given, V(~/.kube/config) is used, or the
        in-cluster service account when running inside a pod.
      - If not set, the value of the E(K8S_AUTH_KUBECONFIG) environment variable is used.
    type: raw
  context:
    description:
      - Name of the context of the kubeconfig to use. Defaults to the kubeconfig's current context.
      - If not set, the value of the E(K8S_AUTH_CONTEXT) environment variable is used.
    type: str
  host:
    description:
      - URL of the Kubernetes API server, for example V(https://127.0.0.1:16443).
      - Without O(kubeconfig) and O(context), O(host) is used with O(api_key) (or O(client_cert)) and
        O(ca_cert) and no kubeconfig is read. With a kubeconfig it overrides the cluster's server.
      - If not set, the value of the E(K8S_AUTH_HOST) environment variable is used.
    type: str
  api_key:
    description:
      - Bearer token to authenticate with, for example a service account token.
      - Never shown in output or messages.
      - If not set, the value of the E(K8S_AUTH_API_KEY) environment variable is used.
    type: str
  ca_cert:
    description:
      - Path to the PEM file of the CA that signed the API server's certificate.
      - If not set, the value of the E(K8S_AUTH_SSL_CA_CERT) environment variable is used.
    type: path
    aliases: [ssl_ca_cert]
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate. Unset means the kubeconfig's setting, else V(true).
      - Only turn this off against a lab or a server you control.
      - If not set, the value of the E(K8S_AUTH_VERIFY_SSL) environment variable is used.
    type: bool
    aliases: [verify_ssl]
  client_cert:
    description:
      - Path to a PEM client certificate to authenticate with.
      - If not set, the value of the E(K8S_AUTH_CERT_FILE) environment variable is used.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the private key of O(client_cert).
      - If not set, the value of the E(K8S_AUTH_KEY_FILE) environment variable is used.
    type: path
    aliases: [key_file]
  proxy:
    description:
      - URL of an HTTP proxy to reach the API server through.
      - Without it, the C(proxy-url) of the kubeconfig's cluster is used, else the proxy environment variables
        (E(HTTPS_PROXY), E(NO_PROXY)).
      - If not set, the value of the E(K8S_AUTH_PROXY) environment variable is used.
    type: str
notes:
  - The options have the names of the kubernetes.core modules, so one C(module_defaults) block can serve
    C(group/kubernetes.core.k8s) and C(group/voicehive.remediation.kubernetes).
"""

    # The modules whose action plugin runs their code in the worker process with a local connection
    # (plugins/plugin_utils/_in_process.py), with ansible.builtin.action_common_attributes.flow.
    IN_PROCESS = r"""
attributes:
  action:
    support: full
    details:
      - With a local connection (the collection's playbooks run with C(connection=local)) the action plugin runs
        the module's code in the Ansible worker process, without starting the module, which saves about a second per
        task. With any other connection, or with C(become), C(environment) or C(async), the module runs as usual.
  async:
    support: full
  bypass_host_loop:
    support: none
requirements:
  - The kubernetes Python library only for a kubeconfig user with an C(exec) or C(auth-provider) plugin; every other
    connection is made with the Python standard library.
"""
