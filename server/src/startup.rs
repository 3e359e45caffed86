//! Builds the state and the router, and serves them until a shutdown signal.

use std::sync::Arc;

use app::{
    shell,
    ssr::state::{LoginLimits, Settings},
    ssr::AppState,
    App,
};
use axum::{middleware, routing::get, Router};
use leptos::{config::LeptosOptions, prelude::provide_context};
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::limit::RequestBodyLimitLayer;

use crate::{bootstrap, config::Config, guard, routes};

/// Server functions take forms and small JSON; anything bigger is refused with 413 before it is
/// read whole.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("MAILBRIDGE_DATABASE_URL: {0}")]
    Database(#[from] app::ssr::db::DbError),
    #[error("LEPTOS_SITE_ADDR: cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Key(#[from] app::ssr::crypto::KeyError),
    #[error("{0}")]
    Providers(String),
    #[error("MAILBRIDGE_CA_FILE: {0}")]
    Ca(String),
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
    #[error("{0}")]
    Gateway(#[from] crate::gateway::GatewayError),
    #[error("MAILBRIDGE_ADMIN_EMAIL / MAILBRIDGE_ADMIN_PASSWORD: {0}")]
    Admin(String),
}

pub async fn build_state(config: &Config) -> Result<AppState, StartError> {
    // Until the state is built: migrations, the key file and the first admin, one instance at
    // a time.
    let _starting = app::ssr::db::start_lock(&config.database_url).await?;
    let pool = app::ssr::db::open(&config.database_url).await?;
    let key_file = match &config.secret_key_file {
        Some(f) => f.clone(),
        None => match app::ssr::db::Backend::of(&config.database_url)? {
            app::ssr::db::Backend::Sqlite => {
                let opts = app::ssr::db::connect_options(&config.database_url)?;
                app::ssr::crypto::default_key_file(opts.get_filename())
            }
            // No database file to sit beside: the working folder's data/ like the SQLite
            // default. Several instances must share one key: see MAILBRIDGE_SECRET_KEY.
            app::ssr::db::Backend::Postgres => std::path::PathBuf::from("data/secret.key"),
        },
    };
    let secrets = app::ssr::crypto::load(&pool, config.secret_key.as_deref(), &key_file).await?;
    let providers = app::ssr::providers::BuiltIn::from_overrides(&config.provider_overrides)
        .map_err(StartError::Providers)?;
    let extra_ca = match &config.ca_file {
        Some(path) => app::ssr::mail::tls::ExtraCa::load(path).map_err(StartError::Ca)?,
        None => app::ssr::mail::tls::ExtraCa::default(),
    };
    let policy = app::ssr::outbound::NetPolicy::new(config.allow_private_networks.clone());
    let outbound =
        app::ssr::outbound::Outbound::new(&extra_ca, policy).map_err(StartError::Http)?;
    bootstrap::first_admin(&pool, config).await?;
    let hash_file = crate::assets::hash_file(&config.site_root, config.hash_file.as_deref());
    let leptos_options = LeptosOptions::builder()
        .output_name("mailbridge")
        .site_root(config.site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(config.site_addr)
        .hash_files(hash_file.is_some())
        // An absolute path: Leptos joins it to the binary's folder, which then drops out.
        .hash_file(
            hash_file
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "hash.txt".into())
                .into(),
        )
        .build();
    Ok(AppState::new(app::ssr::state::Shared {
        leptos_options,
        pool,
        clock: app::ssr::clock::Clock::default(),
        settings: Arc::new(Settings {
            public_url: config.public_url.clone(),
            session_idle_secs: config.session_idle_minutes * 60,
            session_max_secs: config.session_max_hours * 3600,
            trusted_proxies: config.trusted_proxies.clone(),
            allowed_hosts: guard::allowed_hosts(&config.public_url),
            body_timeout_secs: config.body_timeout_secs as u64,
            header_timeout_secs: config.header_timeout_secs as u64,
            max_connections: config.max_connections as usize,
            api_rate_per_minute: config.api_rate_per_minute,
            metrics_token_hash: config.metrics_token_hash.clone(),
            audit_retention_days: config.audit_retention_days,
            notify_error_after_mins: config.notify_error_after_mins,
            login: LoginLimits {
                per_email: config.login_max_failures_per_email,
                per_client: config.login_max_failures_per_client,
                window_secs: config.login_window_secs,
                per_email_all_clients: config.login_max_failures_per_email_all_clients,
                short_window_secs: config.login_short_window_secs,
            },
        }),
        secrets: Arc::new(secrets),
        providers: Arc::new(providers),
        outbound,
        refresher: Arc::new(app::ssr::refresh::Refresher::default()),
        heartbeats: Arc::default(),
        webhooks: Arc::new(app::ssr::webhooks::Hub::new(
            config.webhook_concurrency as usize,
        )),
        hashing: Arc::new(tokio::sync::Semaphore::new(
            config.password_hash_concurrency as usize,
        )),
        refresh: app::ssr::refresh::RefreshSettings {
            before_secs: config.refresh_before_secs,
            interval_secs: config.refresh_interval_secs as u64,
            concurrency: config.refresh_concurrency as usize,
            lease_secs: config.refresh_lease_secs,
        },
        mail_tests: Arc::new(app::ssr::mail::gate::TestGate::new(
            app::ssr::mail::gate::GateLimits {
                concurrency: config.mail_test_concurrency as usize,
                per_minute: config.mail_test_per_minute as usize,
                password_failures: config.login_max_failures_per_email as usize,
                password_window_secs: config.login_window_secs,
            },
        )),
        mail: Arc::new(app::ssr::mail::MailSettings {
            timeout_secs: config.mail_timeout_secs as u64,
            extra_ca,
        }),
    }))
}

pub fn router(state: AppState) -> Router {
    if state.settings.metrics_token_hash.is_some() {
        // Installed before anything is counted, not at the first scrape.
        crate::metrics::recorder();
    }
    let routes = generate_route_list(App);
    let ctx = {
        let state = state.clone();
        move || provide_context(state.clone())
    };
    let options = state.leptos_options.clone();
    Router::new()
        .nest_service("/pkg", crate::assets::pkg_files(&options.site_root))
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(crate::metrics::readyz))
        .route("/metrics", get(crate::metrics::metrics))
        .route("/oauth/callback/{key}", get(routes::oauth_callback))
        .route("/activity.csv", get(routes::activity_csv))
        .merge(crate::api_v1::router())
        .leptos_routes_with_context(&state, routes, ctx.clone(), move || shell(options.clone()))
        .route_layer(middleware::from_fn(crate::telemetry::remember_route))
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(ctx, shell))
        // Innermost: a POST's body is read only once the guards below (outer) let it through.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            read_body_within_limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::require_session,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::same_origin,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::known_host,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(middleware::map_response(explain_too_large))
        .layer(middleware::map_response_with_state(
            state.clone(),
            guard::security_headers,
        ))
        // Pages and JSON, compressed for a browser that accepts it (brotli, else gzip); /pkg
        // files come precompressed (a release build's .br/.gz) and are left as they are.
        .layer(tower_http::compression::CompressionLayer::new())
        // Outermost: the span covers the guards too, and the status the client finally gets.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::telemetry::request_span,
        ))
        .with_state(state)
}

/// The connection limits of `state`'s settings.
pub fn conn_limits(state: &AppState) -> crate::serving::ConnLimits {
    crate::serving::ConnLimits {
        header_timeout: std::time::Duration::from_secs(state.settings.header_timeout_secs),
        max_connections: state.settings.max_connections,
    }
}

/// A body sent without Content-Length (chunked) passes the limit layer's up-front check and
/// would fail half-way through a server function as a 500; reading it here, at most
/// `MAX_BODY_BYTES`, turns that into the same 413. A body that trickles in slower than
/// `MAILBRIDGE_BODY_TIMEOUT_SECS` is a 408.
async fn read_body_within_limit(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if req.method() != http::Method::POST {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let limit = std::time::Duration::from_secs(state.settings.body_timeout_secs);
    let Ok(read) = tokio::time::timeout(limit, axum::body::to_bytes(body, MAX_BODY_BYTES)).await
    else {
        return (
            http::StatusCode::REQUEST_TIMEOUT,
            "The request body did not arrive in time.",
        )
            .into_response();
    };
    match read {
        Ok(bytes) => {
            next.run(axum::extract::Request::from_parts(parts, bytes.into()))
                .await
        }
        Err(e) if is_length_limit(&e) => http::StatusCode::PAYLOAD_TOO_LARGE.into_response(),
        // A broken body (bad chunking, the client went away): nothing was done.
        Err(_) => (
            http::StatusCode::BAD_REQUEST,
            "The request body could not be read.",
        )
            .into_response(),
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// The body limit answers 413 with plain text; a server function's caller decodes errors as an
/// `AppError`, so the page can say what happened instead of "something went wrong".
async fn explain_too_large(res: axum::response::Response) -> axum::response::Response {
    use axum::response::IntoResponse;
    if res.status() != http::StatusCode::PAYLOAD_TOO_LARGE {
        return res;
    }
    let error = app::error::AppError::Refused(format!(
        "The form is too large to send (over {} KB). Shorten the longest field and try again.",
        MAX_BODY_BYTES / 1024
    ));
    let body = serde_json::to_string(&error).unwrap_or_default();
    (
        http::StatusCode::PAYLOAD_TOO_LARGE,
        [(http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Binds, logs the address and serves until SIGINT or SIGTERM, finishing in-flight requests.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let state = build_state(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.site_addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.site_addr,
            source,
        })?;
    tracing::info!(addr = %config.site_addr, public_url = %config.public_url, "Mailbridge listening");
    crate::gateway::start(&state, &config).await?;
    let worker = app::ssr::refresh::spawn(state.clone(), state.refresh.clone());
    let housekeeping =
        app::ssr::housekeeping::spawn(state.clone(), std::time::Duration::from_secs(600));
    let deliveries = app::ssr::webhooks::worker::spawn(state.clone());
    let notices = app::ssr::notices::spawn(state.clone());
    let stop_refreshing = worker.stop_signal();
    let limits = conn_limits(&state);
    crate::serving::serve(listener, router(state), limits, async move {
        shutdown_signal().await;
        // No new refresh from the moment the signal arrives, while requests drain: the sooner
        // the process is done, the less a supervisor's SIGKILL deadline can catch mid-refresh.
        stop_refreshing.send();
    })
    .await;
    // Refreshes already sent are awaited and saved, whether serving ended well or not.
    worker.stop().await;
    deliveries.stop().await;
    notices.stop().await;
    housekeeping.abort();
    tracing::info!("Mailbridge stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
