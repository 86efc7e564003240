//! What an operator of the local stack sees: Prometheus scraping all six services with the
//! repository's alert rules loaded, and `/metrics` never served through the ingress.

use std::collections::BTreeMap;

use e2e::{PROPAGATION, prometheus_url, stack_url};
use serde_json::{Value, json};
use test_support::http::{assert_errors, client, eventually};

const SERVICES: [&str; 6] = [
    "auth",
    "client",
    "expiration",
    "orders",
    "payments",
    "tickets",
];

#[tokio::test]
async fn prometheus_scrapes_every_service_and_loads_the_alert_rules() {
    let http = client();
    let up = eventually("every service to be scraped up", PROPAGATION, || async {
        let body: Value = http
            .get(format!("{}/api/v1/query", prometheus_url()))
            .query(&[("query", "up")])
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let up: BTreeMap<String, String> = body["data"]["result"]
            .as_array()?
            .iter()
            .filter_map(|sample| {
                Some((
                    sample["metric"]["service"].as_str()?.to_owned(),
                    sample["value"][1].as_str()?.to_owned(),
                ))
            })
            .collect();
        (up.len() == SERVICES.len() && up.values().all(|value| value == "1")).then_some(up)
    })
    .await;
    assert_eq!(up.keys().map(String::as_str).collect::<Vec<_>>(), SERVICES);

    let rules: Value = http
        .get(format!("{}/api/v1/rules", prometheus_url()))
        .send()
        .await
        .expect("prometheus answers")
        .json()
        .await
        .expect("json");
    let mut alerts: Vec<&str> = rules["data"]["groups"][0]["rules"]
        .as_array()
        .expect("the ticketing group")
        .iter()
        .filter_map(|rule| rule["name"].as_str())
        .collect();
    alerts.sort_unstable();
    assert_eq!(
        alerts,
        [
            "ConsumerLagGrowing",
            "EventParked",
            "ExpirationLate",
            "OutboxBacklogOld",
            "OutboxEntryParked",
            "PaymentRefunded",
            "PaymentUnreconciled",
            "ServerErrors",
            "ServiceDown",
        ]
    );
}

#[tokio::test]
async fn the_ingress_never_serves_metrics() {
    let response = client()
        .get(format!("{}/metrics", stack_url()))
        .send()
        .await
        .expect("sent");
    assert_errors(response, 404, json!([{ "message": "Not Found" }])).await;
}
