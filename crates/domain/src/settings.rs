//! An organization's settings, kept as JSON in `organizations.settings`. Every field has a
//! default, so an organization created before a setting existed reads it as its default.

use serde::{Deserialize, Serialize};

use crate::helpdesk::{Language, Texts};
use crate::opt_out::OptOutSettings;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct OrgSettings {
    /// Send Meta a read receipt (blue ticks) when an agent marks a conversation read.
    pub read_receipts: bool,
    /// What inbound messages become: leads and notes, tickets, or both.
    pub mode: Mode,
    pub helpdesk: HelpdeskSettings,
    /// Marketing opt-out keywords and their confirmations.
    pub opt_out: OptOutSettings,
}

/// Missing fields take these values (serde's container `default` reads them from here).
impl Default for OrgSettings {
    fn default() -> Self {
        OrgSettings {
            read_receipts: true,
            mode: Mode::default(),
            helpdesk: HelpdeskSettings::default(),
            opt_out: OptOutSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Leads and notes only.
    #[default]
    Crm,
    /// Tickets only (no leads or notes from inbound messages).
    Helpdesk,
    Both,
}

impl Mode {
    pub fn keeps_leads(self) -> bool {
        matches!(self, Mode::Crm | Mode::Both)
    }

    pub fn keeps_tickets(self) -> bool {
        matches!(self, Mode::Helpdesk | Mode::Both)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HelpdeskSettings {
    /// The language of the assistant's texts and of the notification templates.
    pub language: Language,
    /// The name the assistant introduces itself with.
    pub assistant_name: String,
    /// Hours without activity after which a contact's next message starts a new ticket.
    pub session_hours: u32,
    /// Replacements for the default texts of `language`, by name.
    pub texts: TextOverrides,
    /// Templates for notifications outside the 24-hour window (names, in `language`).
    pub templates: NotificationTemplates,
}

impl Default for HelpdeskSettings {
    fn default() -> Self {
        HelpdeskSettings {
            language: Language::default(),
            assistant_name: "Switchboard".into(),
            session_hours: 24,
            texts: TextOverrides::default(),
            templates: NotificationTemplates::default(),
        }
    }
}

impl HelpdeskSettings {
    /// The texts in force: the language's defaults with this organization's overrides.
    pub fn texts(&self) -> Texts {
        let mut texts = Texts::defaults(self.language);
        let o = &self.texts;
        for (slot, custom) in [
            (&mut texts.menu, &o.menu),
            (&mut texts.menu_button, &o.menu_button),
            (&mut texts.menu_hint, &o.menu_hint),
            (&mut texts.connected, &o.connected),
            (&mut texts.ticket_created, &o.ticket_created),
            (&mut texts.help, &o.help),
            (&mut texts.status, &o.status),
            (&mut texts.no_ticket, &o.no_ticket),
            (&mut texts.new_ticket, &o.new_ticket),
            (&mut texts.cancelled, &o.cancelled),
            (&mut texts.status_changed, &o.status_changed),
        ] {
            if let Some(custom) = custom.as_ref().filter(|t| !t.trim().is_empty()) {
                *slot = custom.clone();
            }
        }
        texts
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct TextOverrides {
    pub menu: Option<String>,
    pub menu_button: Option<String>,
    pub menu_hint: Option<String>,
    pub connected: Option<String>,
    pub ticket_created: Option<String>,
    pub help: Option<String>,
    pub status: Option<String>,
    pub no_ticket: Option<String>,
    pub new_ticket: Option<String>,
    pub cancelled: Option<String>,
    pub status_changed: Option<String>,
}

/// Template names for notifications that must reach a contact outside the 24-hour window.
/// Positional templates get `{{1}}` = ticket number and `{{2}}` = the status or the reply;
/// named ones get `ticket_number`, `status` and `message`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct NotificationTemplates {
    pub status_changed: Option<String>,
    pub agent_reply: Option<String>,
}

impl OrgSettings {
    /// Reads stored settings; anything unreadable counts as the defaults (settings never stop
    /// messages from flowing).
    pub fn from_stored(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }

    /// These settings with `patch` merged in (JSON merge patch, RFC 7386: objects merge
    /// field by field, `null` puts a field back to its default); an unknown field, a wrong
    /// type or a value out of range is an error naming it.
    pub fn patched(&self, patch: &serde_json::Value) -> Result<Self, String> {
        if !patch.is_object() {
            return Err("settings must be a JSON object".into());
        }
        let mut merged = serde_json::to_value(self).map_err(|e| e.to_string())?;
        merge(&mut merged, patch);
        let settings: OrgSettings = serde_json::from_value(merged).map_err(|e| e.to_string())?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), String> {
        self.opt_out.check()?;
        let helpdesk = &self.helpdesk;
        if !(1..=720).contains(&helpdesk.session_hours) {
            return Err("helpdesk.sessionHours must be between 1 and 720".into());
        }
        if helpdesk.assistant_name.trim().is_empty() || helpdesk.assistant_name.chars().count() > 60
        {
            return Err("helpdesk.assistantName must be 1 to 60 characters".into());
        }
        let texts = helpdesk.texts();
        if texts.menu_button.chars().count() > 20 {
            return Err(
                "helpdesk.texts.menuButton must be at most 20 characters (Meta's limit)".into(),
            );
        }
        for template in [
            &helpdesk.templates.status_changed,
            &helpdesk.templates.agent_reply,
        ]
        .into_iter()
        .flatten()
        {
            if !crate::outbound::is_valid_template_name(template) {
                return Err(format!(
                    "helpdesk.templates: '{template}' is not a template name (lower case letters, digits and _)"
                ));
            }
        }
        Ok(())
    }
}

/// RFC 7386: `null` removes (here: back to the default), objects merge, anything else replaces.
fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    let (Some(target), Some(patch)) = (target.as_object_mut(), patch.as_object()) else {
        *target = patch.clone();
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else if value.is_object() && target.get(key).is_some_and(|v| v.is_object()) {
            if let Some(slot) = target.get_mut(key) {
                merge(slot, value);
            }
        } else {
            target.insert(key.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_settings_are_defaults() {
        let stored = OrgSettings::from_stored("{}");
        assert!(stored.read_receipts);
        assert_eq!(stored.mode, Mode::Crm);
        assert_eq!(stored.helpdesk.session_hours, 24);
        assert!(OrgSettings::from_stored("not json").read_receipts);
        // Settings stored before the helpdesk existed still read.
        assert!(!OrgSettings::from_stored(r#"{"readReceipts":false}"#).read_receipts);
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
        let nested = OrgSettings::default()
            .patched(&json!({"helpdesk": {"texts": {"greeting": "hi"}}}))
            .unwrap_err();
        assert!(nested.contains("greeting"), "{nested}");
    }

    #[test]
    fn nested_patches_merge_and_null_restores_the_default() {
        let spanish = OrgSettings::default()
            .patched(&json!({"mode": "both", "helpdesk": {"language": "es", "sessionHours": 2}}))
            .unwrap();
        assert_eq!(spanish.mode, Mode::Both);
        let renamed = spanish
            .patched(&json!({"helpdesk": {"assistantName": "Ana", "texts": {"connected": "Listo: {service}"}}}))
            .unwrap();
        assert_eq!(
            renamed.helpdesk.language,
            Language::Es,
            "untouched fields stay"
        );
        assert_eq!(renamed.helpdesk.session_hours, 2);
        assert_eq!(renamed.helpdesk.texts().connected, "Listo: {service}");
        assert_eq!(
            renamed.helpdesk.texts().ticket_created,
            "Ticket #{number} creado. Te responderemos pronto."
        );
        let reset = renamed
            .patched(&json!({"helpdesk": {"sessionHours": null}}))
            .unwrap();
        assert_eq!(reset.helpdesk.session_hours, 24);
    }

    #[test]
    fn opt_out_keywords_are_patched_checked_and_reset() {
        use crate::opt_out::Consent;
        let custom = OptOutSettings::default();
        assert_eq!(custom.consent_in("BAJA"), Some(Consent::OptOut));
        let german = OrgSettings::default()
            .patched(&json!({"optOut": {"stopKeywords": ["Abmelden"], "texts": {"optedOut": "Tschüss"}}}))
            .unwrap();
        assert_eq!(
            german.opt_out.consent_in("abmelden!"),
            Some(Consent::OptOut)
        );
        assert_eq!(german.opt_out.consent_in("stop"), None);
        assert_eq!(
            german.opt_out.consent_in("start"),
            Some(Consent::OptIn),
            "start keywords keep their defaults"
        );
        assert!(german.opt_out.acknowledge);
        let reset = german
            .patched(&json!({"optOut": {"stopKeywords": null}}))
            .unwrap();
        assert_eq!(reset.opt_out.consent_in("stop"), Some(Consent::OptOut));
        assert_eq!(reset.opt_out.texts.opted_out.as_deref(), Some("Tschüss"));
        for (patch, field) in [
            (json!({"optOut": {"stopKeywords": "stop"}}), "sequence"),
            (json!({"optOut": {"keywords": ["stop"]}}), "keywords"),
            (json!({"optOut": {"startKeywords": ["stop"]}}), "'stop'"),
        ] {
            let error = OrgSettings::default().patched(&patch).unwrap_err();
            assert!(error.contains(field), "{patch}: {error}");
        }
        // Settings stored before opt-outs existed read the defaults.
        let old = OrgSettings::from_stored(r#"{"mode":"both"}"#);
        assert_eq!(old.opt_out, OptOutSettings::default());
    }

    #[test]
    fn out_of_range_values_are_refused_with_their_name() {
        for (patch, field) in [
            (json!({"helpdesk": {"sessionHours": 0}}), "sessionHours"),
            (json!({"helpdesk": {"assistantName": " "}}), "assistantName"),
            (json!({"helpdesk": {"language": "fr"}}), "fr"),
            (json!({"mode": "tickets"}), "tickets"),
            (
                json!({"helpdesk": {"templates": {"agentReply": "Bad Name"}}}),
                "Bad Name",
            ),
            (
                json!({"helpdesk": {"texts": {"menuButton": "a very long button label"}}}),
                "menuButton",
            ),
        ] {
            let error = OrgSettings::default().patched(&patch).unwrap_err();
            assert!(error.contains(field), "{patch}: {error}");
        }
    }
}
