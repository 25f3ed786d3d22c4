//! safecode: signed safety QR codes for flood and typhoon response.
//!
//! Pure core (`domain`) at the bottom, IO at the edges (`store`, `http`).
//! `http` knows no SQL; `store` knows no HTTP; `service` holds the use cases.

pub mod config;
pub mod domain;
pub mod geo;
pub mod http;
pub mod keys;
pub mod qr;
pub mod rules;
pub mod service;
pub mod startup;
pub mod store;
pub mod synthetic;
pub mod telemetry;
pub mod token;
