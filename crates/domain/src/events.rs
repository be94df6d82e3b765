//! The events Switchboard tells other systems about through outgoing webhooks.

use std::fmt;
use std::str::FromStr;

/// An event type organizations can subscribe a URL to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A customer's message was received (not app echoes or history imports).
    MessageReceived,
    /// An outbound message's delivery status moved (sent, delivered, read, failed).
    MessageStatus,
    /// A lead was created from a first message.
    LeadCreated,
    /// A conversation was assigned to a user, or unassigned.
    ConversationAssigned,
    /// A helpdesk ticket was opened.
    TicketCreated,
    /// A ticket's status, assignee or comments changed.
    TicketUpdated,
    /// Meta approved, rejected, paused or disabled a template.
    TemplateStatus,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        Self::MessageReceived,
        Self::MessageStatus,
        Self::LeadCreated,
        Self::ConversationAssigned,
        Self::TicketCreated,
        Self::TicketUpdated,
        Self::TemplateStatus,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessageReceived => "message.received",
            Self::MessageStatus => "message.status",
            Self::LeadCreated => "lead.created",
            Self::ConversationAssigned => "conversation.assigned",
            Self::TicketCreated => "ticket.created",
            Self::TicketUpdated => "ticket.updated",
            Self::TemplateStatus => "template.status",
        }
    }

    /// All names, for error messages and the API's schema.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|e| e.as_str()).collect()
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown event type {s:?}; use one of: {}",
                    Self::names().join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_type() {
        for event in EventType::ALL {
            assert_eq!(event.as_str().parse::<EventType>(), Ok(event));
        }
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let err = "message.sent".parse::<EventType>().unwrap_err();
        assert!(err.contains("message.received"), "{err}");
    }
}
