"""An evaluation of NetworkPolicies (networking.k8s.io/v1 semantics) over a deploy set: which
connections between the set's pods, and between them and the peers of contract.NETWORK_EXTERNAL,
the policies allow. Enough of the API for these manifests and the mistakes worth catching: pod and
namespace selectors (matchLabels, matchExpressions), ipBlock with except, ports by number, name
or range, rules without peers or ports (everything), policyTypes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from . import contract
from .model import Resource


@dataclass(frozen=True)
class Peer:
    name: str
    internal: bool
    labels: dict = field(default_factory=dict, hash=False, compare=False)
    namespace_labels: dict | None = field(default=None, hash=False, compare=False)
    ip: str | None = None
    ports: tuple = field(default=(), hash=False, compare=False)  # (port, protocol, port name or None)


def selects(selector: dict | None, labels: dict | None) -> bool:
    if selector is None or labels is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, op, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _ip_in(ip: str | None, block: dict) -> bool:
    if ip is None:
        return False
    address = ipaddress.ip_address(ip)
    try:
        cidr = ipaddress.ip_network(block.get("cidr"), strict=False)
    except ValueError:
        return False
    if address.version != cidr.version or address not in cidr:
        return False
    for excluded in block.get("except") or []:
        network = ipaddress.ip_network(excluded, strict=False)
        if address.version == network.version and address in network:
            return False
    return True


def _peer_matches(rule_peer: dict, peer: Peer) -> bool:
    if "ipBlock" in rule_peer:
        return _ip_in(peer.ip, rule_peer["ipBlock"])
    pod_selector = rule_peer.get("podSelector")
    if "namespaceSelector" in rule_peer:
        namespace_selector = rule_peer["namespaceSelector"] or {}
        if peer.internal:
            # The fleet's own namespace has labels we do not know: only {} selects it for sure.
            namespace_ok = not namespace_selector.get("matchLabels") and not namespace_selector.get("matchExpressions")
        else:
            namespace_ok = selects(namespace_selector, peer.namespace_labels)
        return namespace_ok and (pod_selector is None or selects(pod_selector, peer.labels))
    # podSelector alone: pods of the policy's own namespace.
    return peer.internal and selects(pod_selector, peer.labels)


def _port_matches(rule_ports: list | None, port: int, protocol: str, name: str | None) -> bool:
    if not rule_ports:
        return True
    for rule_port in rule_ports:
        if rule_port.get("protocol", "TCP") != protocol:
            continue
        wanted = rule_port.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, str):
            if wanted == name:
                return True
            continue
        if wanted <= port <= int(rule_port.get("endPort", wanted)):
            return True
    return False


def _types(policy: Resource) -> list[str]:
    spec = policy.obj.get("spec") or {}
    if spec.get("policyTypes"):
        return list(spec["policyTypes"])
    return ["Ingress"] + (["Egress"] if "egress" in spec else [])


class Evaluation:
    def __init__(self, resources: list[Resource]):
        self.policies = [r for r in resources if r.kind == "NetworkPolicy"]
        self.pods: list[Peer] = []
        seen = set()
        for workload in resources:
            if not workload.is_workload:
                continue
            name = workload.pod_labels.get("app", workload.name)
            if name in seen:
                continue
            seen.add(name)
            ports = tuple((p.get("containerPort"), p.get("protocol", "TCP"), p.get("name"))
                          for c in workload.containers(include_init=False) for p in c.get("ports") or [])
            # One port no container declares: a rule open on every port shows up on it.
            ports += ((9, "TCP", None),)
            self.pods.append(Peer(name, True, dict(workload.pod_labels), ip=contract.POD_IP, ports=ports))
        self.external = [
            Peer(name, False, dict(spec.get("pod") or {}), spec.get("namespace"), spec.get("ip"),
                 tuple((port, proto, None) for port, proto in spec["ports"]))
            for name, spec in contract.NETWORK_EXTERNAL.items()
        ]

    def _allowed(self, direction: str, subject: Peer, other: Peer, port: int, protocol: str, name) -> bool:
        """Whether the policies selecting `subject` for `direction` let it talk to `other`."""
        if not subject.internal:
            return True  # outside the fleet: not ours to police
        selecting = [p for p in self.policies if direction in _types(p)
                     and selects((p.obj.get("spec") or {}).get("podSelector") or {}, subject.labels)]
        if not selecting:
            return True  # not isolated
        key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        for policy in selecting:
            for rule in (policy.obj.get("spec") or {}).get(key) or []:
                peers = rule.get(peers_key)
                if peers and not any(_peer_matches(p, other) for p in peers):
                    continue
                if _port_matches(rule.get("ports"), port, protocol, name):
                    return True
        return False

    def allowed_paths(self) -> set[tuple[str, str, int, str]]:
        paths = set()
        sources = self.pods + self.external
        for destination in self.pods + self.external:
            for source in sources:
                if not source.internal and not destination.internal:
                    continue
                for port, protocol, name in destination.ports:
                    if (self._allowed("Egress", source, destination, port, protocol, name)
                            and self._allowed("Ingress", destination, source, port, protocol, name)):
                        paths.add((source.name, destination.name, port, protocol))
        return paths
