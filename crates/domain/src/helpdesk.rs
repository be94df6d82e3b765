//! The helpdesk's rules: ticket statuses, the customer's slash commands in three languages,
//! the service menu (matching an answer by number, name or tapped row) and the assistant's
//! texts. No I/O: the store applies these inside its transactions.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::outbound::{
    Action, Interactive, InteractiveKind, OutboundContent, Row, Section, Text, TextObject,
};

/// Where a ticket is. `new`, `in_progress` and `waiting_customer` are open: a contact's
/// messages go to an open ticket; the other three end it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    New,
    InProgress,
    WaitingCustomer,
    Resolved,
    Closed,
    Cancelled,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 6] = [
        TicketStatus::New,
        TicketStatus::InProgress,
        TicketStatus::WaitingCustomer,
        TicketStatus::Resolved,
        TicketStatus::Closed,
        TicketStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::New => "new",
            TicketStatus::InProgress => "in_progress",
            TicketStatus::WaitingCustomer => "waiting_customer",
            TicketStatus::Resolved => "resolved",
            TicketStatus::Closed => "closed",
            TicketStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn is_open(self) -> bool {
        matches!(
            self,
            TicketStatus::New | TicketStatus::InProgress | TicketStatus::WaitingCustomer
        )
    }

    /// The status as the customer reads it.
    pub fn label(self, language: Language) -> &'static str {
        use Language::*;
        use TicketStatus::*;
        match (self, language) {
            (New, En) => "new",
            (New, Es) => "nuevo",
            (New, Pt) => "novo",
            (InProgress, En) => "in progress",
            (InProgress, Es) => "en progreso",
            (InProgress, Pt) => "em andamento",
            (WaitingCustomer, En) => "waiting for your reply",
            (WaitingCustomer, Es) => "esperando tu respuesta",
            (WaitingCustomer, Pt) => "aguardando sua resposta",
            (Resolved, En) => "resolved",
            (Resolved, Es) => "resuelto",
            (Resolved, Pt) => "resolvido",
            (Closed, En) => "closed",
            (Closed, Es) => "cerrado",
            (Closed, Pt) => "fechado",
            (Cancelled, En) => "cancelled",
            (Cancelled, Es | Pt) => "cancelado",
        }
    }
}

/// The language the assistant speaks to an organization's customers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Es,
    Pt,
}

impl Language {
    /// The code Meta's templates use for this language.
    pub fn template_code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Es => "es",
            Language::Pt => "pt_BR",
        }
    }
}

/// What a customer can ask for by writing a command instead of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Help,
    Status,
    New,
    Cancel,
}

/// Every alias, whatever the organization's language: a customer who writes `/ayuda` to an
/// English-speaking desk still gets help (the answer comes in the desk's language).
const COMMANDS: [(&str, Command); 10] = [
    ("help", Command::Help),
    ("ajuda", Command::Help),
    ("ayuda", Command::Help),
    ("status", Command::Status),
    ("estado", Command::Status),
    ("new", Command::New),
    ("novo", Command::New),
    ("nuevo", Command::New),
    ("cancel", Command::Cancel),
    ("cancelar", Command::Cancel),
];

/// The command a message is, if it is one: `/word` alone (any case, accents ignored,
/// surrounding blanks ignored). `/status please` is a message, not a command.
pub fn parse_command(text: &str) -> Option<Command> {
    let word = text.trim().strip_prefix('/')?;
    if word.is_empty() || word.contains(char::is_whitespace) {
        return None;
    }
    let word = fold(word);
    COMMANDS
        .iter()
        .find(|(alias, _)| *alias == word)
        .map(|(_, command)| *command)
}

/// Lower case without accents and with blanks collapsed: "  Facturación  Web" → "facturacion web".
pub fn fold(text: &str) -> String {
    let stripped: String = text
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase();
    stripped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A service on the menu, in the order offered (numbered from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuItem {
    pub id: String,
    pub name: String,
}

/// The id a menu row carries, so a tapped row names its service exactly.
pub fn row_id(service_id: &str) -> String {
    format!("service:{service_id}")
}

/// The service an answer chooses: a tapped row, its number (`2`, `2.`, `#2`) or its name
/// (any case, accents ignored).
pub fn choose<'a>(
    answer: &str,
    reply_id: Option<&str>,
    menu: &'a [MenuItem],
) -> Option<&'a MenuItem> {
    if let Some(tapped) = reply_id.and_then(|id| id.strip_prefix("service:")) {
        return menu.iter().find(|item| item.id == tapped);
    }
    let folded = fold(answer);
    let number = folded.trim_start_matches('#').trim_end_matches(['.', ')']);
    if let Ok(n) = number.parse::<usize>() {
        return n.checked_sub(1).and_then(|i| menu.get(i));
    }
    menu.iter().find(|item| fold(&item.name) == folded)
}

/// Meta's limits for a list message (reference §9): 10 rows, titles ≤ 24, button ≤ 20.
const LIST_MAX_ROWS: usize = 10;
const ROW_TITLE_MAX: usize = 24;
const ROW_DESCRIPTION_MAX: usize = 72;

/// The menu as the customer sees it: a list message for up to ten services (tap a row), a
/// numbered text beyond that. `hint` prefixes "that matched nothing".
pub fn menu_message(
    texts: &Texts,
    assistant: &str,
    menu: &[MenuItem],
    hint: bool,
) -> OutboundContent {
    let intro = render(&texts.menu, &[("assistant", assistant)]);
    let intro = if hint {
        format!("{}\n{intro}", texts.menu_hint)
    } else {
        intro
    };
    let numbered: Vec<String> = menu
        .iter()
        .enumerate()
        .map(|(i, item)| format!("{}. {}", i + 1, item.name))
        .collect();
    if menu.len() > LIST_MAX_ROWS || menu.is_empty() {
        return OutboundContent::Text(Text {
            body: format!("{intro}\n{}", numbered.join("\n")),
            preview_url: false,
        });
    }
    let rows = menu
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let title = format!("{}. {}", i + 1, item.name);
            let fits = title.chars().count() <= ROW_TITLE_MAX;
            Row {
                id: row_id(&item.id),
                title: truncate(&title, ROW_TITLE_MAX),
                // A name too long for the title is shown whole underneath.
                description: (!fits).then(|| truncate(&item.name, ROW_DESCRIPTION_MAX)),
            }
        })
        .collect();
    OutboundContent::Interactive(Interactive {
        kind: InteractiveKind::List,
        header: None,
        body: TextObject { text: intro },
        footer: None,
        action: Action {
            buttons: None,
            button: Some(truncate(&texts.menu_button, 20)),
            sections: Some(vec![Section { title: None, rows }]),
        },
    })
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `{name}` placeholders replaced by their values; unknown ones are left as written.
pub fn render(text: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(text.to_string(), |acc, (name, value)| {
        acc.replace(&format!("{{{name}}}"), value)
    })
}

/// Everything the assistant says, in one language. `{assistant}`, `{service}`, `{number}`,
/// `{status}` and `{updated}` are filled in where they appear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Texts {
    pub menu: String,
    pub menu_button: String,
    pub menu_hint: String,
    pub connected: String,
    pub ticket_created: String,
    pub help: String,
    pub status: String,
    pub no_ticket: String,
    pub new_ticket: String,
    pub cancelled: String,
    pub status_changed: String,
}

impl Texts {
    pub fn defaults(language: Language) -> Texts {
        match language {
            Language::En => Texts {
                menu: "Hello! This is {assistant}. Which service can we help you with? Reply with its number or name:".into(),
                menu_button: "Services".into(),
                menu_hint: "Sorry, that is not one of the options.".into(),
                connected: "We have connected you with {service}. How can we help you?".into(),
                ticket_created: "Ticket #{number} created. We will answer soon.".into(),
                help: "Commands:\n/help: this list\n/status: your ticket's status\n/new: start a new ticket\n/cancel: cancel your ticket".into(),
                status: "Ticket #{number}: {status}. Last update: {updated}.".into(),
                no_ticket: "You have no open ticket. Write to us and we will open one.".into(),
                new_ticket: "Your next message starts a new ticket.".into(),
                cancelled: "Ticket #{number} has been cancelled.".into(),
                status_changed: "Your ticket #{number} is now: {status}.".into(),
            },
            Language::Es => Texts {
                menu: "¡Hola! Soy {assistant}. ¿Con qué servicio podemos ayudarte? Responde con el número o el nombre:".into(),
                menu_button: "Servicios".into(),
                menu_hint: "Lo siento, esa no es una de las opciones.".into(),
                connected: "Te hemos conectado con {service}. ¿En qué podemos ayudarte?".into(),
                ticket_created: "Ticket #{number} creado. Te responderemos pronto.".into(),
                help: "Comandos:\n/ayuda: esta lista\n/estado: el estado de tu ticket\n/nuevo: abrir un ticket nuevo\n/cancelar: cancelar tu ticket".into(),
                status: "Ticket #{number}: {status}. Última actualización: {updated}.".into(),
                no_ticket: "No tienes ningún ticket abierto. Escríbenos y abriremos uno.".into(),
                new_ticket: "Tu próximo mensaje abrirá un ticket nuevo.".into(),
                cancelled: "El ticket #{number} ha sido cancelado.".into(),
                status_changed: "Tu ticket #{number} ahora está: {status}.".into(),
            },
            Language::Pt => Texts {
                menu: "Olá! Aqui é {assistant}. Com qual serviço podemos ajudar? Responda com o número ou o nome:".into(),
                menu_button: "Serviços".into(),
                menu_hint: "Desculpe, essa não é uma das opções.".into(),
                connected: "Conectamos você com {service}. Como podemos ajudar?".into(),
                ticket_created: "Ticket #{number} criado. Responderemos em breve.".into(),
                help: "Comandos:\n/ajuda: esta lista\n/status: o status do seu ticket\n/novo: abrir um novo ticket\n/cancelar: cancelar seu ticket".into(),
                status: "Ticket #{number}: {status}. Última atualização: {updated}.".into(),
                no_ticket: "Você não tem nenhum ticket aberto. Escreva para nós e abriremos um.".into(),
                new_ticket: "Sua próxima mensagem abrirá um novo ticket.".into(),
                cancelled: "O ticket #{number} foi cancelado.".into(),
                status_changed: "Seu ticket #{number} agora está: {status}.".into(),
            },
        }
    }
}

/// A ticket's subject from the message that opened it: its first line, at most 80 characters.
pub fn subject_from(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.is_empty() {
        return "WhatsApp conversation".into();
    }
    truncate(line, 80)
}

/// The helpdesk's notification templates (the seed systems' names), in one language: each a
/// UTILITY template with `{{1}}` = the ticket number and `{{2}}` = the detail (status, reply,
/// agent, subject). Meta refuses placeholders at the very start or end, so each ends in words.
pub fn default_templates(language: Language) -> Vec<(&'static str, serde_json::Value)> {
    let bodies: [(&str, &str, &str); 6] = match language {
        Language::En => [
            (
                "ticket_created",
                "Your ticket #{{1}} was created: {{2}}. We will answer soon.",
                "Printer not working",
            ),
            (
                "ticket_updated",
                "Your ticket #{{1}} is now: {{2}}. Reply to this message if you need anything else.",
                "in progress",
            ),
            (
                "ticket_assigned",
                "Your ticket #{{1}} is being handled by {{2}}. We will be in touch soon.",
                "Ana",
            ),
            (
                "ticket_resolved",
                "Your ticket #{{1}} has been resolved: {{2}}. Reply if the problem persists.",
                "replaced the cable",
            ),
            (
                "agent_response",
                "New answer on your ticket #{{1}}: {{2}}. Reply to continue the conversation.",
                "Please restart the router",
            ),
            (
                "sla_warning",
                "Your ticket #{{1}} is taking longer than expected ({{2}}). We are on it and will answer soon.",
                "4 hours",
            ),
        ],
        Language::Es => [
            (
                "ticket_created",
                "Tu ticket #{{1}} fue creado: {{2}}. Te responderemos pronto.",
                "La impresora no funciona",
            ),
            (
                "ticket_updated",
                "Tu ticket #{{1}} ahora está: {{2}}. Responde a este mensaje si necesitas algo más.",
                "en progreso",
            ),
            (
                "ticket_assigned",
                "Tu ticket #{{1}} lo atiende {{2}}. Te contactaremos pronto.",
                "Ana",
            ),
            (
                "ticket_resolved",
                "Tu ticket #{{1}} fue resuelto: {{2}}. Responde si el problema continúa.",
                "cambiamos el cable",
            ),
            (
                "agent_response",
                "Nueva respuesta en tu ticket #{{1}}: {{2}}. Responde para continuar la conversación.",
                "Reinicia el router",
            ),
            (
                "sla_warning",
                "Tu ticket #{{1}} está tardando más de lo previsto ({{2}}). Estamos en ello y te responderemos pronto.",
                "4 horas",
            ),
        ],
        Language::Pt => [
            (
                "ticket_created",
                "Seu ticket #{{1}} foi criado: {{2}}. Responderemos em breve.",
                "A impressora não funciona",
            ),
            (
                "ticket_updated",
                "Seu ticket #{{1}} agora está: {{2}}. Responda a esta mensagem se precisar de algo mais.",
                "em andamento",
            ),
            (
                "ticket_assigned",
                "Seu ticket #{{1}} está sendo atendido por {{2}}. Entraremos em contato em breve.",
                "Ana",
            ),
            (
                "ticket_resolved",
                "Seu ticket #{{1}} foi resolvido: {{2}}. Responda se o problema continuar.",
                "trocamos o cabo",
            ),
            (
                "agent_response",
                "Nova resposta no seu ticket #{{1}}: {{2}}. Responda para continuar a conversa.",
                "Reinicie o roteador",
            ),
            (
                "sla_warning",
                "Seu ticket #{{1}} está demorando mais do que o previsto ({{2}}). Estamos trabalhando nisso e responderemos em breve.",
                "4 horas",
            ),
        ],
    };
    bodies
        .into_iter()
        .map(|(name, body, example)| {
            let components = serde_json::json!([{
                "type": "BODY",
                "text": body,
                "example": {"body_text": [["1234", example]]},
            }]);
            (name, components)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn menu() -> Vec<MenuItem> {
        ["Facturación", "Soporte técnico", "Ventas"]
            .iter()
            .enumerate()
            .map(|(i, name)| MenuItem {
                id: format!("s{i}"),
                name: name.to_string(),
            })
            .collect()
    }

    #[test]
    fn commands_in_every_language_with_any_case_and_blanks() {
        for (text, command) in [
            ("/help", Command::Help),
            ("/ajuda", Command::Help),
            (" /AYUDA ", Command::Help),
            ("/status", Command::Status),
            ("/estado", Command::Status),
            ("/new", Command::New),
            ("/novo", Command::New),
            ("/Nuevo", Command::New),
            ("/cancel", Command::Cancel),
            ("/cancelar", Command::Cancel),
        ] {
            assert_eq!(parse_command(text), Some(command), "{text}");
        }
        for text in ["help", "/", "/status please", "/unknown", "hola /ayuda", ""] {
            assert_eq!(parse_command(text), None, "{text}");
        }
    }

    #[test]
    fn folding_ignores_case_accents_and_blanks() {
        assert_eq!(fold("  Facturación   Web "), "facturacion web");
        assert_eq!(fold("SERVIÇO"), "servico");
        assert_eq!(fold("Ñandú"), "nandu");
    }

    #[test]
    fn an_answer_chooses_by_number_name_or_tapped_row() {
        let menu = menu();
        assert_eq!(choose("2", None, &menu).unwrap().id, "s1");
        assert_eq!(choose(" 3. ", None, &menu).unwrap().id, "s2");
        assert_eq!(choose("#1", None, &menu).unwrap().id, "s0");
        assert_eq!(choose("soporte TECNICO", None, &menu).unwrap().id, "s1");
        assert_eq!(choose("facturacion", None, &menu).unwrap().id, "s0");
        assert_eq!(
            choose("1. Facturación", Some("service:s2"), &menu)
                .unwrap()
                .id,
            "s2",
            "a tapped row wins over its title"
        );
        for wrong in ["0", "4", "soporte", "hola", ""] {
            assert!(choose(wrong, None, &menu).is_none(), "{wrong}");
        }
        assert!(choose("x", Some("service:gone"), &menu).is_none());
    }

    #[test]
    fn up_to_ten_services_make_a_valid_list_message() {
        let texts = Texts::defaults(Language::Es);
        let mut long = menu();
        long.push(MenuItem {
            id: "s3".into(),
            name: "Atención a grandes cuentas corporativas".into(),
        });
        let content = menu_message(&texts, "Ana", &long, false);
        content.validate().unwrap();
        let OutboundContent::Interactive(list) = content else {
            panic!("expected a list");
        };
        assert!(list.body.text.contains("Soy Ana"));
        let rows = &list.action.sections.as_ref().unwrap()[0].rows;
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].id, "service:s0");
        assert_eq!(rows[0].title, "1. Facturación");
        assert!(rows[3].title.chars().count() <= 24);
        assert_eq!(
            rows[3].description.as_deref(),
            Some("Atención a grandes cuentas corporativas")
        );
    }

    #[test]
    fn more_than_ten_services_make_a_numbered_text_and_a_hint_comes_first() {
        let texts = Texts::defaults(Language::En);
        let many: Vec<MenuItem> = (1..=11)
            .map(|i| MenuItem {
                id: format!("s{i}"),
                name: format!("Service {i}"),
            })
            .collect();
        let OutboundContent::Text(text) = menu_message(&texts, "Bot", &many, true) else {
            panic!("expected text");
        };
        assert!(
            text.body
                .starts_with("Sorry, that is not one of the options.")
        );
        assert!(text.body.contains("\n1. Service 1\n"));
        assert!(text.body.ends_with("11. Service 11"));
    }

    #[test]
    fn statuses_round_trip_and_know_which_are_open() {
        for status in TicketStatus::ALL {
            assert_eq!(TicketStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(TicketStatus::parse("open"), None);
        let open: Vec<_> = TicketStatus::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .collect();
        assert_eq!(
            open,
            [
                TicketStatus::New,
                TicketStatus::InProgress,
                TicketStatus::WaitingCustomer
            ]
        );
        assert_eq!(TicketStatus::InProgress.label(Language::Pt), "em andamento");
    }

    #[test]
    fn texts_fill_their_placeholders() {
        let texts = Texts::defaults(Language::Es);
        assert_eq!(
            render(&texts.connected, &[("service", "Ventas")]),
            "Te hemos conectado con Ventas. ¿En qué podemos ayudarte?"
        );
        assert_eq!(render("{number} {other}", &[("number", "7")]), "7 {other}");
        assert_eq!(
            subject_from("\n  Printer broken\nsince monday"),
            "Printer broken"
        );
        assert_eq!(subject_from("   "), "WhatsApp conversation");
    }

    #[test]
    fn default_templates_pass_metas_review_rules_in_every_language() {
        for language in [Language::En, Language::Es, Language::Pt] {
            let templates = default_templates(language);
            let names: Vec<&str> = templates.iter().map(|(n, _)| *n).collect();
            assert_eq!(
                names,
                [
                    "ticket_created",
                    "ticket_updated",
                    "ticket_assigned",
                    "ticket_resolved",
                    "agent_response",
                    "sla_warning"
                ]
            );
            for (name, components) in templates {
                crate::template_def::validate_definition(
                    name,
                    language.template_code(),
                    "UTILITY",
                    &components,
                )
                .unwrap_or_else(|e| panic!("{name} ({language:?}): {e}"));
                assert_eq!(
                    crate::template_def::required_variables(&components),
                    ["1", "2"],
                    "{name}"
                );
                let body = components[0]["text"].as_str().unwrap();
                assert!(!body.starts_with("{{") && !body.ends_with("}}"), "{name}");
            }
        }
    }
}
