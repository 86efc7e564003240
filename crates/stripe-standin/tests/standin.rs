//! The stand-in speaks Stripe's wire format: these pin the shapes the payments service relies on.

use reqwest::StatusCode;
use serde_json::{Value, json};
use stripe_standin::{DECLINED_MESSAGE, StandIn};

const KEY: &str = "Bearer sk_test_standin";

async fn post_charge(
    standin: &StandIn,
    auth: Option<&str>,
    key: Option<&str>,
    form: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    post(standin, "/v1/charges", auth, key, form).await
}

async fn post(
    standin: &StandIn,
    path: &str,
    auth: Option<&str>,
    key: Option<&str>,
    form: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", standin.url()))
        .form(form);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.expect("sent");
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.json().await.expect("json"))
}

const VISA: [(&str, &str); 3] = [
    ("amount", "1999"),
    ("currency", "usd"),
    ("source", "tok_visa"),
];

#[tokio::test]
async fn a_secret_key_is_required() {
    let standin = StandIn::spawn().await;
    let (status, _, body) = post_charge(&standin, None, None, &VISA).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("You did not provide an API key.")),
        "{body}"
    );
    let (status, _, body) = post_charge(&standin, Some("Bearer pk_test_abcd"), None, &VISA).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_****abcd"}})
    );
    assert!(standin.charges().is_empty(), "nothing ran without a key");
}

#[tokio::test]
async fn tok_visa_creates_a_succeeded_charge() {
    let standin = StandIn::spawn().await;
    let (status, _, body) = post_charge(&standin, Some(KEY), None, &VISA).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["object"], "charge");
    assert!(
        body["id"].as_str().is_some_and(|id| id.starts_with("ch_")),
        "{body}"
    );
    assert_eq!(
        (
            &body["amount"],
            &body["currency"],
            &body["status"],
            &body["paid"],
            &body["captured"]
        ),
        (
            &json!(1999),
            &json!("usd"),
            &json!("succeeded"),
            &json!(true),
            &json!(true)
        )
    );
    assert_eq!(standin.succeeded_charges(), vec![body]);
}

#[tokio::test]
async fn tok_charge_declined_is_a_card_error() {
    let standin = StandIn::spawn().await;
    let form = [
        ("amount", "1999"),
        ("currency", "usd"),
        ("source", "tok_chargeDeclined"),
    ];
    let (status, _, body) = post_charge(&standin, Some(KEY), None, &form).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    let charge = standin.charges().pop().expect("a failed charge is kept");
    assert_eq!(charge["status"], "failed");
    assert_eq!(
        body,
        json!({"error":{
            "type":"card_error","code":"card_declined","decline_code":"generic_decline",
            "doc_url":"https://stripe.com/docs/error-codes/card-declined",
            "message": DECLINED_MESSAGE, "charge": charge["id"],
        }})
    );
    assert!(standin.succeeded_charges().is_empty());
}

#[tokio::test]
async fn unknown_tokens_and_missing_params_are_invalid_requests() {
    let standin = StandIn::spawn().await;
    let (status, _, body) = post_charge(
        &standin,
        Some(KEY),
        None,
        &[
            ("amount", "1999"),
            ("currency", "usd"),
            ("source", "tok_nope"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "resource_missing");
    assert_eq!(body["error"]["param"], "source");
    assert_eq!(body["error"]["message"], "No such token: 'tok_nope'");
    let (status, _, body) = post_charge(
        &standin,
        Some(KEY),
        None,
        &[("currency", "usd"), ("source", "tok_visa")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error":{"type":"invalid_request_error","code":"parameter_missing",
            "doc_url":"https://stripe.com/docs/error-codes/parameter-missing",
            "param":"amount","message":"Missing required param: amount."}})
    );
    assert!(standin.charges().is_empty());
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_response() {
    let standin = StandIn::spawn().await;
    let (status, first_headers, first) = post_charge(&standin, Some(KEY), Some("k1"), &VISA).await;
    assert_eq!(status, StatusCode::OK);
    assert!(first_headers.get("idempotent-replayed").is_none());
    let (status, headers, again) = post_charge(&standin, Some(KEY), Some("k1"), &VISA).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first, "the stored response, byte for byte");
    assert_eq!(
        headers.get("idempotent-replayed").map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    assert_eq!(standin.charges().len(), 1, "no second charge");

    // A declined response is replayed as well: only a new key (a new card) charges again.
    let declined = [
        ("amount", "1999"),
        ("currency", "usd"),
        ("source", "tok_chargeDeclined"),
    ];
    let (s1, _, d1) = post_charge(&standin, Some(KEY), Some("k2"), &declined).await;
    let (s2, _, d2) = post_charge(&standin, Some(KEY), Some("k2"), &declined).await;
    assert_eq!(
        (s1, s2),
        (StatusCode::PAYMENT_REQUIRED, StatusCode::PAYMENT_REQUIRED)
    );
    assert_eq!(d1, d2);
    assert_eq!(standin.charges().len(), 2);
}

#[tokio::test]
async fn a_key_in_use_is_a_conflict_and_charges_once() {
    let standin = StandIn::spawn().await;
    standin
        .state
        .set_latency(std::time::Duration::from_millis(300));
    let attempts = (0..3).map(|_| post_charge(&standin, Some(KEY), Some("same"), &VISA));
    let results = futures::future::join_all(attempts).await;
    let statuses: Vec<_> = results
        .iter()
        .map(|(status, _, _)| status.as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{results:?}"
    );
    for (status, _, body) in results
        .iter()
        .filter(|(status, _, _)| *status != StatusCode::OK)
    {
        assert_eq!(*status, StatusCode::CONFLICT);
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["code"], "idempotency_key_in_use");
    }
    assert_eq!(standin.charges().len(), 1);
    // Once the first is done, the key replays it.
    let (status, headers, again) = post_charge(&standin, Some(KEY), Some("same"), &VISA).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("idempotent-replayed").is_some());
    assert_eq!(again["id"], standin.charges()[0]["id"]);
}

#[tokio::test]
async fn a_key_reused_with_other_parameters_is_an_idempotency_error() {
    let standin = StandIn::spawn().await;
    post_charge(&standin, Some(KEY), Some("k"), &VISA).await;
    let other = [
        ("amount", "2000"),
        ("currency", "usd"),
        ("source", "tok_visa"),
    ];
    let (status, _, body) = post_charge(&standin, Some(KEY), Some("k"), &other).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than 'k' if you meant to execute a different request."}})
    );
    assert_eq!(standin.charges().len(), 1);
}

#[tokio::test]
async fn a_dropped_response_still_charged_and_the_retry_replays_it() {
    let standin = StandIn::spawn().await;
    standin.drop_next_responses(1);
    let lost = reqwest::Client::new()
        .post(format!("{}/v1/charges", standin.url()))
        .header("authorization", KEY)
        .header("idempotency-key", "k")
        .form(&VISA)
        .send()
        .await;
    let lost = match lost {
        Ok(response) => response
            .bytes()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(error) => Err(error.to_string()),
    };
    assert!(lost.is_err(), "the client never gets the answer");
    assert_eq!(standin.charges().len(), 1, "but the charge was made");
    let (status, _, body) = post_charge(&standin, Some(KEY), Some("k"), &VISA).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], standin.charges()[0]["id"]);
    assert_eq!(standin.charges().len(), 1);
}

#[tokio::test]
async fn requests_are_recorded_and_served_as_json() {
    let standin = StandIn::spawn().await;
    post_charge(
        &standin,
        Some(KEY),
        Some("k"),
        &[
            ("amount", "1999"),
            ("currency", "usd"),
            ("source", "tok_visa"),
            ("metadata[order_id]", "abc"),
        ],
    )
    .await;
    let recorded = standin.charge_requests();
    assert_eq!(recorded.len(), 1);
    let request = &recorded[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v1/charges")
    );
    assert_eq!(request.header("authorization"), Some(KEY));
    assert_eq!(request.header("idempotency-key"), Some("k"));
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(request.param("metadata[order_id]"), Some("abc"));
    assert_eq!(request.param("amount"), Some("1999"));

    let over_http: Value = reqwest::get(format!("{}/__requests", standin.url()))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    // The same, but the secret key is never shown to whoever reaches the port.
    let mut expected = serde_json::to_value(&recorded).expect("serialises");
    expected[0]["headers"]["authorization"] = json!("Bearer sk_test_…ndin");
    assert_eq!(over_http, expected);
    let charge_id = standin.charges()[0]["id"].as_str().expect("id").to_owned();
    let fetched: Value = reqwest::Client::new()
        .get(format!("{}/v1/charges/{charge_id}", standin.url()))
        .header("authorization", KEY)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(fetched["id"], charge_id.as_str());
    let health: Value = reqwest::get(format!("{}/healthz", standin.url()))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(health, json!({"status":"ok"}));
}

#[tokio::test]
async fn a_charge_is_refunded_once_and_a_retried_refund_replays() {
    let standin = StandIn::spawn().await;
    let (_, _, charge) = post_charge(&standin, Some(KEY), None, &VISA).await;
    let id = charge["id"].as_str().expect("charge id");
    let form = [("charge", id), ("metadata[order_id]", "o1")];

    let (status, _, refund) = post(&standin, "/v1/refunds", Some(KEY), Some("r-1"), &form).await;
    assert_eq!(status, StatusCode::OK, "{refund}");
    assert_eq!(
        (
            &refund["object"],
            &refund["amount"],
            &refund["charge"],
            &refund["currency"],
            &refund["status"],
            &refund["metadata"]
        ),
        (
            &json!("refund"),
            &json!(1999),
            &json!(id),
            &json!("usd"),
            &json!("succeeded"),
            &json!({"order_id": "o1"})
        )
    );
    assert!(
        refund["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("re_")),
        "{refund}"
    );

    // The same key replays the refund; another key finds the charge refunded already.
    let (status, headers, again) =
        post(&standin, "/v1/refunds", Some(KEY), Some("r-1"), &form).await;
    assert_eq!((status, &again), (StatusCode::OK, &refund));
    assert_eq!(
        headers.get("idempotent-replayed").map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    let (status, _, error) = post(&standin, "/v1/refunds", Some(KEY), Some("r-2"), &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["code"], "charge_already_refunded");
    assert_eq!(standin.refunds(), vec![refund]);
    let charge = &standin.charges()[0];
    assert_eq!(
        (&charge["refunded"], &charge["amount_refunded"]),
        (&json!(true), &json!(1999))
    );
}

#[tokio::test]
async fn refunds_of_unknown_or_failed_charges_are_invalid_requests() {
    let standin = StandIn::spawn().await;
    let (status, _, error) = post(
        &standin,
        "/v1/refunds",
        Some(KEY),
        None,
        &[("charge", "ch_nope")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (&error["error"]["code"], &error["error"]["param"]),
        (&json!("resource_missing"), &json!("charge"))
    );
    let declined = [
        ("amount", "1999"),
        ("currency", "usd"),
        ("source", "tok_chargeDeclined"),
    ];
    post_charge(&standin, Some(KEY), None, &declined).await;
    let id = standin.charges()[0]["id"].as_str().expect("id").to_owned();
    let (status, _, error) =
        post(&standin, "/v1/refunds", Some(KEY), None, &[("charge", &id)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["code"], "charge_not_refundable");
    assert!(standin.refunds().is_empty());
}
