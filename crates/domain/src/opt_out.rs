//! Marketing consent by keyword: a customer whose whole message is a stop keyword ("STOP",
//! "BAJA", "SAIR", …) no longer gets marketing templates; a start keyword ("START", "ALTA",
//! "VOLTAR", …) brings them back. Keywords are per organization (defaults cover English,
//! Spanish and Portuguese) and match only a whole message, ignoring case, accents, blanks and
//! the punctuation around it: "¡Baja!" opts out, "stop sending me the wrong size" does not.

use serde::{Deserialize, Serialize};

use crate::helpdesk::{Language, fold};

/// What a keyword asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// Stop marketing messages.
    OptOut,
    /// Send them again.
    OptIn,
}

impl Consent {
    /// True for [`Consent::OptOut`]: what `opt_out_events.opted_out` stores.
    pub fn opted_out(self) -> bool {
        self == Consent::OptOut
    }
}

/// Stop keywords when an organization sets none. "cancel"/"cancelar", "end" and "quit" are
/// left out on purpose: customers write them about orders and tickets (and `/cancel` is a
/// helpdesk command), so they would opt people out who never asked to.
pub const DEFAULT_STOP_KEYWORDS: &[&str] = &[
    // English
    "stop",
    "stop all",
    "stopall",
    "unsubscribe",
    "opt out",
    "optout",
    // Spanish
    "baja",
    "dar de baja",
    "darme de baja",
    "parar",
    "detener",
    "desuscribir",
    "desuscribirme",
    // Portuguese
    "sair",
    "descadastrar",
    "descadastrar me",
];

/// Start keywords when an organization sets none.
pub const DEFAULT_START_KEYWORDS: &[&str] = &[
    // English
    "start",
    "unstop",
    "subscribe",
    // Spanish
    "alta",
    "dar de alta",
    "suscribir",
    "suscribirme",
    // Portuguese
    "voltar",
    "reativar",
];

/// Most keywords a list may hold, and the longest keyword.
const MAX_KEYWORDS: usize = 50;
const MAX_KEYWORD_CHARS: usize = 40;
/// Longest acknowledgement text (Meta allows 4096; an acknowledgement should be short).
const MAX_TEXT_CHARS: usize = 1000;

/// The `optOut` part of an organization's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct OptOutSettings {
    /// Whole messages that opt a contact out of marketing; `None` means the defaults.
    pub stop_keywords: Option<Vec<String>>,
    /// Whole messages that opt a contact back in; `None` means the defaults.
    pub start_keywords: Option<Vec<String>>,
    /// Answer a keyword with a confirmation (only inside the 24-hour window).
    pub acknowledge: bool,
    /// Replacements for the default confirmations (in the helpdesk language).
    pub texts: OptOutTexts,
}

impl Default for OptOutSettings {
    fn default() -> Self {
        OptOutSettings {
            stop_keywords: None,
            start_keywords: None,
            acknowledge: true,
            texts: OptOutTexts::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct OptOutTexts {
    pub opted_out: Option<String>,
    pub opted_in: Option<String>,
}

impl OptOutSettings {
    /// The stop keywords in force, normalized.
    pub fn stop_keywords(&self) -> Vec<String> {
        in_force(self.stop_keywords.as_deref(), DEFAULT_STOP_KEYWORDS)
    }

    /// The start keywords in force, normalized.
    pub fn start_keywords(&self) -> Vec<String> {
        in_force(self.start_keywords.as_deref(), DEFAULT_START_KEYWORDS)
    }

    /// What a customer's message asks for, if it is exactly a keyword. A helpdesk command
    /// (`/cancel`) is never a keyword, whatever the lists say.
    pub fn consent_in(&self, text: &str) -> Option<Consent> {
        if text.trim_start().starts_with('/') {
            return None;
        }
        let said = normalize_keyword(text);
        if said.is_empty() {
            return None;
        }
        if self.stop_keywords().contains(&said) {
            Some(Consent::OptOut)
        } else if self.start_keywords().contains(&said) {
            Some(Consent::OptIn)
        } else {
            None
        }
    }

    /// The confirmation to send for `consent`: the organization's text, else the default in
    /// `language`.
    pub fn acknowledgement(&self, consent: Consent, language: Language) -> String {
        let custom = match consent {
            Consent::OptOut => &self.texts.opted_out,
            Consent::OptIn => &self.texts.opted_in,
        };
        custom
            .as_ref()
            .filter(|t| !t.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| default_acknowledgement(consent, language).to_string())
    }

    /// Refuses lists a customer could not match, or that contradict each other.
    pub fn check(&self) -> Result<(), String> {
        for (name, list) in [
            ("optOut.stopKeywords", &self.stop_keywords),
            ("optOut.startKeywords", &self.start_keywords),
        ] {
            let Some(list) = list else { continue };
            if list.len() > MAX_KEYWORDS {
                return Err(format!("{name} may hold at most {MAX_KEYWORDS} keywords"));
            }
            for keyword in list {
                let normalized = normalize_keyword(keyword);
                if normalized.is_empty() || keyword.trim().starts_with('/') {
                    return Err(format!(
                        "{name}: '{keyword}' has no letters or digits to match (and may not start with '/', which marks helpdesk commands)"
                    ));
                }
                if normalized.chars().count() > MAX_KEYWORD_CHARS {
                    return Err(format!(
                        "{name}: '{keyword}' is longer than {MAX_KEYWORD_CHARS} characters"
                    ));
                }
            }
        }
        let start = self.start_keywords();
        if let Some(both) = self.stop_keywords().into_iter().find(|k| start.contains(k)) {
            return Err(format!(
                "optOut: '{both}' is both a stop and a start keyword; keep it in one list"
            ));
        }
        for (name, text) in [
            ("optOut.texts.optedOut", &self.texts.opted_out),
            ("optOut.texts.optedIn", &self.texts.opted_in),
        ] {
            if text
                .as_ref()
                .is_some_and(|t| t.chars().count() > MAX_TEXT_CHARS)
            {
                return Err(format!(
                    "{name} must be at most {MAX_TEXT_CHARS} characters"
                ));
            }
        }
        Ok(())
    }
}

/// A message or keyword as compared: lower case, no accents, every run of characters that
/// are not letters or digits made one space, trimmed. "  ¡Dar-de BAJA! " → "dar de baja".
pub fn normalize_keyword(text: &str) -> String {
    let spaced: String = fold(text)
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn in_force(custom: Option<&[String]>, defaults: &[&str]) -> Vec<String> {
    match custom {
        Some(list) => list.iter().map(|k| normalize_keyword(k)).collect(),
        None => defaults.iter().map(|k| normalize_keyword(k)).collect(),
    }
}

/// The default confirmation of a keyword, in the organization's helpdesk language.
pub fn default_acknowledgement(consent: Consent, language: Language) -> &'static str {
    match (consent, language) {
        (Consent::OptOut, Language::En) => {
            "You will no longer receive marketing messages from us. Write START to receive them again."
        }
        (Consent::OptOut, Language::Es) => {
            "Ya no recibirás mensajes promocionales de nuestra parte. Escribe START para volver a recibirlos."
        }
        (Consent::OptOut, Language::Pt) => {
            "Você não receberá mais mensagens promocionais nossas. Escreva START para voltar a recebê-las."
        }
        (Consent::OptIn, Language::En) => {
            "You will receive our marketing messages again. Write STOP to stop them."
        }
        (Consent::OptIn, Language::Es) => {
            "Volverás a recibir nuestros mensajes promocionales. Escribe STOP para dejar de recibirlos."
        }
        (Consent::OptIn, Language::Pt) => {
            "Você voltará a receber nossas mensagens promocionais. Escreva STOP para deixar de recebê-las."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> OptOutSettings {
        OptOutSettings::default()
    }

    #[test]
    fn whole_message_keywords_match_in_any_case_accent_and_punctuation() {
        let s = defaults();
        for stop in [
            "STOP",
            "stop",
            " Stop ",
            "STOP!",
            "stop.",
            "¡Baja!",
            "BAJA",
            "dar de baja",
            "Dar  de   BAJA",
            "PARAR",
            "sair",
            "SAÍR",
            "Unsubscribe",
            "opt-out",
            "STOP ALL",
            "stop 🙏",
            "\"stop\"",
            "descadastrar-me",
        ] {
            assert_eq!(s.consent_in(stop), Some(Consent::OptOut), "{stop}");
        }
        for start in ["START", "start!", "Unstop", "ALTA", "Dar de alta", "voltar"] {
            assert_eq!(s.consent_in(start), Some(Consent::OptIn), "{start}");
        }
    }

    #[test]
    fn messages_that_merely_contain_a_keyword_do_not_match() {
        let s = defaults();
        for other in [
            "stop sending me the wrong size",
            "please stop",
            "don't stop",
            "parar de enviar o pedido errado?",
            "bajá el precio",
            "alta calidad",
            "cancel",
            "cancelar",
            "/cancel",
            "/stop",
            "",
            "   ",
            "!!!",
            "s t o p",
            "stops",
            "startup",
        ] {
            assert_eq!(s.consent_in(other), None, "{other:?}");
        }
    }

    #[test]
    fn an_organization_replaces_the_lists() {
        let s = OptOutSettings {
            stop_keywords: Some(vec!["Nicht mehr".into(), "ALTO".into()]),
            start_keywords: Some(vec!["Weiter".into()]),
            ..defaults()
        };
        assert_eq!(s.consent_in("nicht   MEHR!"), Some(Consent::OptOut));
        assert_eq!(s.consent_in("alto"), Some(Consent::OptOut));
        assert_eq!(s.consent_in("weiter"), Some(Consent::OptIn));
        assert_eq!(s.consent_in("STOP"), None, "the defaults are replaced");
        assert_eq!(s.consent_in("start"), None);
    }

    #[test]
    fn acknowledgements_follow_the_language_and_the_overrides() {
        let s = defaults();
        assert!(
            s.acknowledgement(Consent::OptOut, Language::Es)
                .contains("START")
        );
        assert!(
            s.acknowledgement(Consent::OptIn, Language::Pt)
                .starts_with("Você voltará")
        );
        let custom = OptOutSettings {
            texts: OptOutTexts {
                opted_out: Some("Bye!".into()),
                opted_in: Some("  ".into()),
            },
            ..defaults()
        };
        assert_eq!(
            custom.acknowledgement(Consent::OptOut, Language::En),
            "Bye!"
        );
        assert_eq!(
            custom.acknowledgement(Consent::OptIn, Language::En),
            default_acknowledgement(Consent::OptIn, Language::En),
            "a blank override keeps the default"
        );
    }

    #[test]
    fn bad_lists_are_refused_with_their_name() {
        let cases = [
            (
                OptOutSettings {
                    stop_keywords: Some(vec!["!!".into()]),
                    ..defaults()
                },
                "stopKeywords",
            ),
            (
                OptOutSettings {
                    start_keywords: Some(vec!["/start".into()]),
                    ..defaults()
                },
                "startKeywords",
            ),
            (
                OptOutSettings {
                    start_keywords: Some(vec!["Stop".into()]),
                    ..defaults()
                },
                "'stop'",
            ),
            (
                OptOutSettings {
                    stop_keywords: Some(vec!["x".repeat(41)]),
                    ..defaults()
                },
                "40",
            ),
            (
                OptOutSettings {
                    stop_keywords: Some((0..51).map(|i| format!("k{i}")).collect()),
                    ..defaults()
                },
                "50",
            ),
            (
                OptOutSettings {
                    texts: OptOutTexts {
                        opted_out: Some("x".repeat(1001)),
                        opted_in: None,
                    },
                    ..defaults()
                },
                "optedOut",
            ),
        ];
        for (settings, expected) in cases {
            let error = settings.check().unwrap_err();
            assert!(error.contains(expected), "{expected}: {error}");
        }
        assert!(defaults().check().is_ok());
    }

    #[test]
    fn the_default_lists_are_disjoint_and_normalized() {
        let s = defaults();
        for k in s.stop_keywords().iter().chain(&s.start_keywords()) {
            assert_eq!(&normalize_keyword(k), k);
        }
        assert!(s.check().is_ok());
    }
}
