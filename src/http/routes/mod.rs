pub mod audit;
pub mod health;
pub mod residents;
pub mod users;
