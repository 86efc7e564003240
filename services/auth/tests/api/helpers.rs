//! Spawns the auth service on a random port with a database of its own.

use std::net::SocketAddr;

use reqwest::header::COOKIE;
use reqwest::{Response, StatusCode};
use serde_json::Value;
pub use test_support::http::{assert_errors, cookie_pair, set_cookie};
use test_support::mongo::TestDb;

pub const JWT_KEY: &str = "test-jwt-key";

pub struct TestApp {
    pub address: SocketAddr,
    pub http: reqwest::Client,
    pub db: TestDb,
}

impl TestApp {
    pub async fn spawn() -> Self {
        let db = TestDb::new().await;
        let config = auth::Config {
            mongo: common::config::MongoConfig {
                uri: db.uri.clone(),
            },
            session: common::config::SessionConfig {
                jwt_key: JWT_KEY.into(),
                cookie_secure: true,
            },
            port: 0,
        };
        let app = auth::build(config, common::service::Tuning::default())
            .await
            .expect("auth builds");
        let address = test_support::http::loopback(app.address().expect("bound"));
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        let app = Self {
            address,
            http: test_support::http::client(),
            db,
        };
        app.wait_ready().await;
        app
    }

    async fn wait_ready(&self) {
        let base = format!("http://{}", self.address);
        test_support::http::wait_ready(&self.http, &base, std::time::Duration::from_secs(20)).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn signup(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/users/signup",
            &serde_json::json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Signs up and returns the `Cookie` header value a browser would send back.
    pub async fn signed_in_cookie(&self, email: &str) -> String {
        let response = self.signup(email, "password").await;
        assert_eq!(response.status(), StatusCode::CREATED);
        cookie_pair(&response).expect("signup sets a cookie")
    }

    pub async fn current_user(&self, cookie: Option<&str>) -> Value {
        let mut request = self.http.get(self.url("/api/users/currentuser"));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        let response = request.send().await.expect("request sent");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("json body")
    }
}
