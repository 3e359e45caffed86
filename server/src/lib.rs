//! The Mailbridge server: configuration, start-up and the plain axum routes around the Leptos app.

pub mod api_v1;
pub mod assets;
pub mod bootstrap;
pub mod config;
pub mod gateway;
pub mod guard;
pub mod metrics;
pub mod routes;
pub mod serving;
pub mod startup;
pub mod telemetry;
pub mod token_cmd;

pub use config::Config;
