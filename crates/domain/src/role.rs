//! The roles a user holds inside one organization.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a user (and so each API token of theirs) may do in its organization.
///
/// Ordered from most to least powerful, so `role <= Role::Admin` reads as
/// "at least an admin".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Owner,
    Admin,
    Manager,
    Seller,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Manager, Role::Seller];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "OWNER",
            Role::Admin => "ADMIN",
            Role::Manager => "MANAGER",
            Role::Seller => "SELLER",
        }
    }

    /// True when this role is `other` or more powerful.
    pub fn is_at_least(self, other: Role) -> bool {
        self <= other
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role '{0}': expected one of OWNER, ADMIN, MANAGER, SELLER")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively_and_round_trips() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(role.as_str().to_lowercase().parse::<Role>(), Ok(role));
        }
        assert!("ROOT".parse::<Role>().is_err());
        assert!("".parse::<Role>().is_err());
    }

    #[test]
    fn ranks_roles_from_owner_down() {
        assert!(Role::Owner.is_at_least(Role::Admin));
        assert!(Role::Admin.is_at_least(Role::Admin));
        assert!(!Role::Manager.is_at_least(Role::Admin));
        assert!(!Role::Seller.is_at_least(Role::Manager));
    }
}
