//! Repositories: one module per aggregate, plain functions over `&mut AnyConnection`.
//! Every function that reads tenant data takes the organization id and filters by it.

pub mod channels;
pub mod contacts;
pub mod conversations;
pub mod jobs;
pub mod leads;
pub mod messages;
pub mod notes;
pub mod organizations;
pub mod pipelines;
pub mod templates;
pub mod tokens;
pub mod users;
pub mod webhooks;
