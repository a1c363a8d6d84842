//! Post-incident review exports: `GET /v1/incidents/{id}/review` and `breakglass review`.

pub mod model;
pub mod render;

pub use model::Review;
pub mod build;
pub mod load;
pub mod recorded;

pub use build::build;

#[cfg(test)]
mod tests;
