//! An organization's settings, kept as JSON in `organizations.settings`. Every field has a
//! default, so an organization created before a setting existed reads it as its default.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct OrgSettings {
    /// Send Meta a read receipt (blue ticks) when an agent marks a conversation read.
    pub read_receipts: bool,
}

impl Default for OrgSettings {
    fn default() -> Self {
        OrgSettings {
            read_receipts: true,
        }
    }
}

impl OrgSettings {
    /// Reads stored settings; anything unreadable counts as the defaults (settings never stop
    /// messages from flowing).
    pub fn from_stored(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }

    /// These settings with `patch`'s fields replacing theirs; an unknown field or a wrong
    /// type is an error naming it.
    pub fn patched(&self, patch: &serde_json::Value) -> Result<Self, String> {
        let mut merged = serde_json::to_value(self).map_err(|e| e.to_string())?;
        let (Some(target), Some(changes)) = (merged.as_object_mut(), patch.as_object()) else {
            return Err("settings must be a JSON object".into());
        };
        for (key, value) in changes {
            target.insert(key.clone(), value.clone());
        }
        serde_json::from_value(merged).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_settings_are_defaults() {
        assert!(OrgSettings::from_stored("{}").read_receipts);
        assert!(OrgSettings::from_stored("not json").read_receipts);
    }

    #[test]
    fn patches_change_known_fields_only() {
        let off = OrgSettings::default()
            .patched(&json!({"readReceipts": false}))
            .unwrap();
        assert!(!off.read_receipts);
        let unknown = OrgSettings::default()
            .patched(&json!({"colour": "red"}))
            .unwrap_err();
        assert!(unknown.contains("colour"), "{unknown}");
        assert!(
            OrgSettings::default()
                .patched(&json!({"readReceipts": "no"}))
                .is_err()
        );
        assert!(OrgSettings::default().patched(&json!([1])).is_err());
    }
}
