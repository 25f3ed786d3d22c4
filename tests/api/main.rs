//! Integration tests: each test starts the real server on a random port with a fresh
//! database (SQLite, or PostgreSQL when SAFECODE_TEST_POSTGRES is set) and talks HTTP.

mod accessibility;
mod alert_delivery;
mod alerts;
mod appeals;
mod audit;
mod authz_matrix;
mod browser;
mod channels;
mod cli;
mod codes;
mod console;
mod crash;
mod errors;
mod health;
mod helpers;
mod https;
mod import;
mod incidents;
mod insiders;
mod limits;
mod offline;
mod orders;
mod overrides;
mod pages;
mod printing;
mod privacy;
mod reports;
mod residents;
mod rules;
mod scale;
mod shelters;
mod sign_in;
mod sign_in_pages;
mod squatting;
mod users;
