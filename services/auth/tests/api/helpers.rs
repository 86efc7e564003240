//! Spawns the auth service on a random port with a database of its own.

use common::service::Running;
pub use common::testing::JWT_KEY;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use test_support::http::Api;
pub use test_support::http::{assert_errors, cookie_pair, set_cookie};
use test_support::mongo::TestDb;

pub struct TestApp {
    pub api: Api,
    pub db: TestDb,
    /// The service, running as long as the test.
    _service: Running,
}

test_support::requests_through_api!(TestApp);

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with_limits(auth::limits::LimitSettings::default()).await
    }

    pub async fn spawn_with_limits(limits: auth::limits::LimitSettings) -> Self {
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
            limits,
        };
        let service = auth::build(config, common::service::Tuning::default())
            .await
            .expect("auth builds")
            .spawn()
            .expect("auth runs");
        let app = Self {
            api: Api::new(service.address()),
            db,
            _service: service,
        };
        app.api.wait_ready().await;
        app
    }

    pub async fn signup(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/users/signup",
            None,
            &serde_json::json!({ "email": email, "password": password }),
        )
        .await
    }

    pub async fn signin(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/users/signin",
            None,
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
        let response = self.get("/api/users/currentuser", cookie).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("json body")
    }
}
