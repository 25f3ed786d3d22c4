//! The HTTP handlers, one module per resource. Each reads the request into domain forms, calls
//! one service use case and writes its answer; the table that mounts them is `http::configure`.

pub mod alerts;
pub mod appeals;
pub mod audit;
pub mod channels;
pub mod codes;
pub mod devices;
pub mod districts;
pub mod health;
pub mod keys;
pub mod live;
pub mod map;
pub mod offline;
pub mod overrides;
pub mod print;
pub mod reports;
pub mod residents;
pub mod rules;
pub mod shelters;
pub mod sign_in;
pub mod users;
pub mod zones;
