//! Lists answer one page at a time: `?page=` (from 1) and `?limit=` (1–100, default 20), as
//! `{"data": […], "total", "page", "limit"}`.

use serde::{Deserialize, Serialize};
use switchboard_store::repo::Page;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1.
    #[param(minimum = 1, default = 1)]
    pub page: Option<i64>,
    /// Items per page, 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
}

/// A checked page request: what the store reads, and what the answer echoes.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub page: i64,
    pub limit: i64,
}

impl PageQuery {
    pub fn checked(&self) -> Result<PageRequest, ApiError> {
        let page = self.page.unwrap_or(1);
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if page < 1 {
            return Err(ApiError::Validation("page starts at 1".into()));
        }
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::Validation(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        // Far pages are empty, not an overflow.
        let offset = (page - 1).saturating_mul(limit);
        if offset > i64::from(i32::MAX) {
            return Err(ApiError::Validation(
                "page is too far: no list is that long".into(),
            ));
        }
        Ok(PageRequest { page, limit })
    }
}

impl PageRequest {
    pub fn store(self) -> Page {
        Page {
            limit: self.limit,
            offset: (self.page - 1) * self.limit,
        }
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    pub data: Vec<T>,
    /// How many items match, over all pages.
    pub total: i64,
    pub page: i64,
    pub limit: i64,
}

impl<T> Paged<T> {
    pub fn new<R>(rows: Vec<R>, total: i64, request: PageRequest, view: impl Fn(R) -> T) -> Self {
        Paged {
            data: rows.into_iter().map(view).collect(),
            total,
            page: request.page,
            limit: request.limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(page: Option<i64>, limit: Option<i64>) -> Result<(i64, i64), String> {
        PageQuery { page, limit }
            .checked()
            .map(|r| (r.store().limit, r.store().offset))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_offsets() {
        assert_eq!(check(None, None), Ok((20, 0)));
        assert_eq!(check(Some(3), Some(10)), Ok((10, 20)));
        assert_eq!(check(Some(1), Some(100)), Ok((100, 0)));
    }

    #[test]
    fn out_of_range_is_refused() {
        assert!(check(Some(0), None).unwrap_err().contains("starts at 1"));
        assert!(
            check(None, Some(0))
                .unwrap_err()
                .contains("between 1 and 100")
        );
        assert!(check(None, Some(101)).is_err());
        assert!(
            check(Some(i64::MAX), Some(100))
                .unwrap_err()
                .contains("too far")
        );
    }
}
