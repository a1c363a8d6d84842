//! Rendering a [`Review`] as CSV, Markdown and HTML (JSON is serde's).

use super::model::Review;

pub fn csv(_r: &Review) -> String {
    String::new()
}

pub fn markdown(_r: &Review) -> String {
    String::new()
}

pub fn html(_r: &Review) -> String {
    String::new()
}
