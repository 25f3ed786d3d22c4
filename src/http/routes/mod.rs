pub mod appeals;
pub mod audit;
pub mod health;
pub mod overrides;
pub mod residents;
pub mod rules;
pub mod users;
pub mod zones;
