"""What the manifests must honour, encoded from DESIGN.md §1/§6 and docs/architecture.md.

Change these tables together with the docs they come from.
"""

# Kubernetes API version the manifests are validated against (kubernetes-validate bundles its
# schemas; a Kubernetes release that local clusters ship today). preStop `sleep` needs >= 1.30.
K8S_VERSION = "1.35.0"

# skaffold.yaml schema version: current enough for skaffold 2.15+, which upgrades it on the fly.
SKAFFOLD_API_VERSION = "skaffold/v4beta13"

# The six services: image built by skaffold, Deployment and (except expiration) ClusterIP Service.
SERVICES = ("auth", "tickets", "orders", "expiration", "payments", "client")
IMAGE_PREFIX = "ticketing/"
SERVICE_PORT = 3000
HTTP_SERVICE = {
    "auth": "auth-srv",
    "tickets": "tickets-srv",
    "orders": "orders-srv",
    "payments": "payments-srv",
    "client": "client-srv",
}

# docs/architecture.md, "Services, ports and configuration": what each service needs at start.
# A tuple means "one of these".
REQUIRED_ENV = {
    "auth": ("MONGO_URI", "JWT_KEY"),
    "tickets": ("MONGO_URI", "NATS_URL", "JWT_KEY"),
    "orders": ("MONGO_URI", "NATS_URL", "JWT_KEY"),
    "expiration": ("NATS_URL", ("REDIS_HOST", "REDIS_URL")),
    "payments": ("MONGO_URI", "NATS_URL", "JWT_KEY", "STRIPE_KEY"),
    "client": ("INGRESS_URL",),
}

# The database each service owns (the path of its MONGO_URI) — its own name.
MONGO_REPLICA_SET = "rs0"

# Secrets, referenced by name only: env var -> (Secret name, key).
SECRET_ENV = {
    "JWT_KEY": ("jwt-secret", "JWT_KEY"),
    "STRIPE_KEY": ("stripe-secret", "STRIPE_KEY"),
}
# Env names that look secret but are not (a Stripe publishable key is public by design).
NOT_SECRET_ENV = {"STRIPE_PUBLISHABLE_KEY"}

# Images we run but do not build. Everything else must be a skaffold artifact.
THIRD_PARTY_IMAGES = {"mongo", "nats", "redis"}

# The ingress routes, in the order the original declares them (regex paths, first match wins).
INGRESS_ROUTES = (
    ("/api/payments/?(.*)", "payments-srv"),
    ("/api/users/?(.*)", "auth-srv"),
    ("/api/tickets/?(.*)", "tickets-srv"),
    ("/api/orders/?(.*)", "orders-srv"),
    ("/?(.*)", "client-srv"),
)
DEV_HOST = "ticketing.dev"

# The skaffold sets that deploy the clustered topology of infra/k8s-prod (the one `stack.sh up
# --ha` proves), each with the set its Deployments are copies of (prod-drift). Their NATS and
# MongoDB run CLUSTER_SIZE pods; every service at least MIN_SERVICE_REPLICAS.
CLUSTERED_SETS = {"profile prod": "default", "profile prod-gateway": "default"}
CLUSTER_SIZE = 3
MIN_SERVICE_REPLICAS = 2
# What a clustered Deployment may set differently from its dev original: the cluster's addresses
# (checked by env-references), the streams' copies, the service's NATS user (nats-users; the dev
# NATS has none), the replica count (or its autoscaler), spread.
CLUSTERED_ENV = ("NATS_URL", "MONGO_URI", "NATS_STREAM_REPLICAS", "NATS_USER", "NATS_PASSWORD")
# lame_duck_duration below 30 s is rejected by nats-server.
NATS_MIN_LAME_DUCK_SECONDS = 30

# --- NetworkPolicies of the clustered sets ----------------------------------------------------
# The peers outside the fleet a policy may name, as the evaluation sees them: a namespace's labels
# and a pod's (a controller's pods), or an address; each with the ports tried against it.
NETWORK_EXTERNAL = {
    "ingress-nginx": {"namespace": {"kubernetes.io/metadata.name": "ingress-nginx"},
                      "pod": {"app.kubernetes.io/name": "ingress-nginx"}, "ports": ((80, "TCP"), (443, "TCP"))},
    "gateway": {"namespace": {"kubernetes.io/metadata.name": "envoy-gateway-system"},
                "pod": {"app.kubernetes.io/name": "envoy"}, "ports": ((10080, "TCP"),)},
    "prometheus": {"namespace": {"kubernetes.io/metadata.name": "monitoring"},
                   "pod": {"app.kubernetes.io/name": "prometheus"}, "ports": ((9090, "TCP"),)},
    "kube-dns": {"namespace": {"kubernetes.io/metadata.name": "kube-system"}, "pod": {"k8s-app": "kube-dns"},
                 "ports": ((53, "UDP"), (53, "TCP"))},
    "other-namespace": {"namespace": {"kubernetes.io/metadata.name": "someone-else"}, "pod": {"app": "x"},
                        "ports": ((80, "TCP"),)},
    "internet": {"ip": "198.51.100.7", "ports": ((443, "TCP"), (80, "TCP"))},
    "internet-v6": {"ip": "2001:db8::7", "ports": ((443, "TCP"),)},
    "private-network": {"ip": "10.1.2.3", "ports": ((443, "TCP"),)},
    "cloud-metadata": {"ip": "169.254.169.254", "ports": ((80, "TCP"), (443, "TCP"))},
}
# The address the evaluation gives the fleet's own pods (an ipBlock covering it reaches them).
POD_IP = "10.244.1.10"
MONGO_SERVICES = ("auth", "tickets", "orders", "payments")
NATS_SERVICES = ("tickets", "orders", "expiration", "payments")


def network_paths(pods: list[str]) -> set[tuple[str, str, int, str]]:
    """Every connection the fleet makes (source, destination, port, protocol); `pods` are the
    `app` labels of the set's workloads (every one of them resolves names)."""
    paths = set()
    for service in HTTP_SERVICE:
        paths |= {("ingress-nginx", service, SERVICE_PORT, "TCP"), ("gateway", service, SERVICE_PORT, "TCP")}
    for service in SERVICES:
        paths.add(("prometheus", service, SERVICE_PORT, "TCP"))
    paths |= {("client", "ingress-nginx", 80, "TCP"), ("client", "gateway", 10080, "TCP")}
    for service in MONGO_SERVICES:
        paths |= {(service, f"{service}-mongo", 27017, "TCP"), (f"{service}-mongo", f"{service}-mongo", 27017, "TCP")}
    for service in NATS_SERVICES:
        paths.add((service, "nats", 4222, "TCP"))
    paths.add(("nats", "nats", 6222, "TCP"))
    paths.add(("expiration", "expiration-redis", 6379, "TCP"))
    paths |= {("payments", "internet", 443, "TCP"), ("payments", "internet-v6", 443, "TCP")}
    for pod in pods:
        paths |= {(pod, "kube-dns", 53, "UDP"), (pod, "kube-dns", 53, "TCP")}
    return paths

# --- Gateway API ------------------------------------------------------------------------------
# The sets that serve the routes through a Gateway as well as the Ingress (profiles gateway and
# prod-gateway), and the Gateway API version of the resources.
GATEWAY_SETS = ("profile gateway", "profile prod-gateway")
GATEWAY_API_VERSION = "gateway.networking.k8s.io/v1"
# The local stack's nginx config: the routes every ingress must agree with.
NGINX_TEMPLATE = "infra/nginx/ticketing.conf.template"
