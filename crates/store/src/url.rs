//! Which database a `DATABASE_URL` names.

use std::fmt;
use std::path::PathBuf;

/// The documented default when `DATABASE_URL` is unset.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/switchboard.db";

/// A parsed `DATABASE_URL`: the embedded SQLite file or a PostgreSQL server.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("expected sqlite://PATH or postgres://USER@HOST/DB, got a URL with scheme '{0}'")]
    UnsupportedScheme(String),
    #[error("expected sqlite://PATH or postgres://USER@HOST/DB, got '{0}'")]
    NotAUrl(String),
    #[error("sqlite:// needs a file path, e.g. sqlite://data/switchboard.db")]
    EmptySqlitePath,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, DatabaseUrlError> {
        let raw = raw.trim();
        let Some((scheme, rest)) = raw.split_once(':') else {
            return Err(DatabaseUrlError::NotAUrl(raw.to_string()));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => {
                // sqlite://data/x.db is relative, sqlite:///var/x.db absolute; sqlite:x.db also works.
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if path.is_empty() {
                    return Err(DatabaseUrlError::EmptySqlitePath);
                }
                Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
            }
            "postgres" | "postgresql" if rest.starts_with("//") => {
                Ok(DatabaseUrl::Postgres(raw.to_string()))
            }
            "postgres" | "postgresql" => Err(DatabaseUrlError::NotAUrl(raw.to_string())),
            other => Err(DatabaseUrlError::UnsupportedScheme(other.to_string())),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }
}

/// Never prints a PostgreSQL password: URLs end up in logs.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_supported_schemes() {
        assert_eq!(
            DatabaseUrl::parse(DEFAULT_DATABASE_URL),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("data/switchboard.db")))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/sb.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("/var/lib/sb.db")))
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/db"),
            Ok(DatabaseUrl::Postgres("postgresql://u@h/db".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@h/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
    }

    #[test]
    fn rejects_everything_else_with_a_reason() {
        assert_eq!(
            DatabaseUrl::parse("mysql://x"),
            Err(DatabaseUrlError::UnsupportedScheme("mysql".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("data/switchboard.db"),
            Err(DatabaseUrlError::NotAUrl(_))
        ));
        assert_eq!(
            DatabaseUrl::parse("sqlite://"),
            Err(DatabaseUrlError::EmptySqlitePath)
        );
        assert!(DatabaseUrl::parse("postgres:oops").is_err());
    }

    #[test]
    fn display_hides_the_password() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db.example:5432/sb").unwrap();
        assert_eq!(url.to_string(), "postgres://app:***@db.example:5432/sb");
        assert!(!format!("{url:?}").contains("s3cret"));
    }
}
