//! Phone numbers as typed by people, turned into E.164 digits.
//!
//! WhatsApp ids are E.164 numbers without the `+`. A number sent to the API
//! without its country code is taken as local to the *business's* country,
//! which reaches the wrong person, so every number we store or send to goes
//! through [`normalize`] first.

/// Digits of the shortest and longest numbers we accept (E.164 allows at most
/// 15; no real international number has fewer than 8).
const MIN_DIGITS: usize = 8;
const MAX_DIGITS: usize = 15;
/// National numbers up to this length are assumed to lack a country code.
const MAX_NATIONAL_DIGITS: usize = 10;

/// Why a phone number was refused, worded for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("the phone number is empty: type it with its country code, e.g. +57 310 305 5424")]
    Empty,
    #[error(
        "the phone number contains the letter '{0}': use only digits, spaces, dashes, dots, parentheses and a leading +"
    )]
    Letter(char),
    #[error(
        "the phone number contains '{0}': use only digits, spaces, dashes, dots, parentheses and a leading +"
    )]
    InvalidCharacter(char),
    #[error("'+' may only appear once, at the start of the phone number")]
    MisplacedPlus,
    #[error(
        "the phone number has only {0} digits: a full international number has at least 8 (is the area code missing?)"
    )]
    TooShort(usize),
    #[error(
        "the phone number has {0} digits: an international number has at most 15 (was it typed twice, or with an extension?)"
    )]
    TooLong(usize),
    #[error(
        "the phone number has no country code (it starts with 0): type it with its country code, e.g. +57 310 305 5424"
    )]
    MissingCountryCode,
    #[error("the default country code '{0}' is not 1 to 3 digits")]
    InvalidCountryCode(String),
}

/// Turns a typed phone number into E.164 digits without `+`.
///
/// A leading `+` or `00` marks an international number. Otherwise, when
/// `default_country_code` is given, it is prepended unless the digits already
/// start with it and are longer than a national number (10 digits); a single
/// national trunk `0` is dropped first (`0310…` → `57310…`). This rule is a
/// guess where national numbers can be 11 digits and start like the country
/// code (a Brazilian number from area code 55): people should type the `+`.
pub fn normalize(raw: &str, default_country_code: Option<&str>) -> Result<String, PhoneError> {
    let (plus, digits) = digits_of(raw)?;
    if digits.is_empty() {
        return Err(PhoneError::Empty);
    }
    let international = match (plus, digits.strip_prefix("00")) {
        (true, _) => digits,
        (false, Some(after)) => after.to_string(),
        (false, None) => with_country_code(digits, default_country_code)?,
    };
    check(international)
}

/// The digits of `text`, and whether a `+` came before them (`+57 …`, but also `(+57) …` as
/// people write it), refusing anything but digits and common separators.
fn digits_of(text: &str) -> Result<(bool, String), PhoneError> {
    let mut digits = String::with_capacity(text.len());
    let mut plus = false;
    for c in text.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '\t' | '\u{a0}' | '-' | '.' | '(' | ')' => {}
            '+' if !plus && digits.is_empty() => plus = true,
            '+' => return Err(PhoneError::MisplacedPlus),
            c if c.is_alphabetic() => return Err(PhoneError::Letter(c)),
            c => return Err(PhoneError::InvalidCharacter(c)),
        }
    }
    Ok((plus, digits))
}

/// Prepends the default country code to a number that lacks one.
fn with_country_code(digits: String, country_code: Option<&str>) -> Result<String, PhoneError> {
    let Some(code) = country_code else {
        return Ok(digits);
    };
    let code = country_code_digits(code)?;
    if digits.starts_with(&code) && digits.len() > MAX_NATIONAL_DIGITS {
        return Ok(digits);
    }
    let national = digits.strip_prefix('0').unwrap_or(&digits);
    Ok(format!("{code}{national}"))
}

/// The default country code as digits (`"+57"` and `"57"` both work).
fn country_code_digits(code: &str) -> Result<String, PhoneError> {
    let digits = code.trim().trim_start_matches('+');
    let valid = (1..=3).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if valid {
        Ok(digits.to_string())
    } else {
        Err(PhoneError::InvalidCountryCode(code.to_string()))
    }
}

/// Final checks on an international number: no country code starts with 0,
/// and E.164 bounds its length.
fn check(digits: String) -> Result<String, PhoneError> {
    match digits.len() {
        0 => Err(PhoneError::Empty),
        _ if digits.starts_with('0') => Err(PhoneError::MissingCountryCode),
        n if n < MIN_DIGITS => Err(PhoneError::TooShort(n)),
        n if n > MAX_DIGITS => Err(PhoneError::TooLong(n)),
        _ => Ok(digits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_numbers_of_several_countries() {
        let cases = [
            // Colombia
            ("310 305 5424", Some("57"), "573103055424"),
            ("+57 310 305 5424", Some("57"), "573103055424"),
            ("0057 310 305 5424", Some("57"), "573103055424"),
            ("573103055424", Some("57"), "573103055424"),
            ("0310 305 5424", Some("57"), "573103055424"),
            ("310-305-5424", Some("+57"), "573103055424"),
            // Brazil
            ("(11) 98765-4321", Some("55"), "5511987654321"),
            ("+55 11 98765 4321", None, "5511987654321"),
            ("5511987654321", Some("55"), "5511987654321"),
            // United States
            ("+1 (650) 555-1234", None, "16505551234"),
            ("650.555.1234", Some("1"), "16505551234"),
            ("1 650 555 1234", Some("1"), "16505551234"),
            // Spain
            ("612 345 678", Some("34"), "34612345678"),
            ("+34 612 34 56 78", Some("57"), "34612345678"),
            ("0034612345678", Some("1"), "34612345678"),
            // United Kingdom: the trunk 0 goes
            ("07911 123456", Some("44"), "447911123456"),
            ("+44 7911 123456", None, "447911123456"),
            // India
            ("98765 43210", Some("91"), "919876543210"),
            ("+91-98765-43210", Some("1"), "919876543210"),
            // No default: digits are taken as international
            ("573103055424", None, "573103055424"),
            ("  +57\u{a0}310\t305 5424  ", None, "573103055424"),
        ];
        for (raw, code, expected) in cases {
            assert_eq!(
                normalize(raw, code).as_deref(),
                Ok(expected),
                "{raw:?} {code:?}"
            );
        }
    }

    #[test]
    fn refuses_what_cannot_be_a_number() {
        let cases = [
            ("", None, PhoneError::Empty),
            ("   ", Some("57"), PhoneError::Empty),
            ("+", None, PhoneError::Empty),
            ("( - )", Some("57"), PhoneError::Empty),
            ("310 305 ABCD", Some("57"), PhoneError::Letter('A')),
            ("310 305 5424 ext 12", Some("57"), PhoneError::Letter('e')),
            (
                "310/305/5424",
                Some("57"),
                PhoneError::InvalidCharacter('/'),
            ),
            ("57+3103055424", None, PhoneError::MisplacedPlus),
            ("++573103055424", None, PhoneError::MisplacedPlus),
            ("+57 310", None, PhoneError::TooShort(5)),
            ("12345", Some("57"), PhoneError::TooShort(7)),
            ("+57 310 305 5424 310 305", None, PhoneError::TooLong(18)),
            ("0310 305 5424", None, PhoneError::MissingCountryCode),
            ("+0 310 305 5424", None, PhoneError::MissingCountryCode),
            (
                "310 305 5424",
                Some("5a"),
                PhoneError::InvalidCountryCode("5a".into()),
            ),
            (
                "310 305 5424",
                Some("1234"),
                PhoneError::InvalidCountryCode("1234".into()),
            ),
            (
                "310 305 5424",
                Some(""),
                PhoneError::InvalidCountryCode(String::new()),
            ),
        ];
        for (raw, code, expected) in cases {
            assert_eq!(normalize(raw, code), Err(expected), "{raw:?} {code:?}");
        }
    }

    /// What a company's servers send the notify API: the same number written many ways, with
    /// the channel's (or the deployment's) country code for the ones written without one.
    #[test]
    fn normalizes_numbers_as_servers_send_them() {
        let cases = [
            // Mexico and Argentina keep their mobile 1 and 9 when written internationally.
            ("55 1234 5678", Some("52"), Ok("525512345678")),
            ("+52 1 55 1234 5678", None, Ok("5215512345678")),
            ("+54 9 11 2345-6789", Some("57"), Ok("5491123456789")),
            // Germany: the trunk 0 goes; 00 is an international prefix whatever the default.
            ("0151 2345 6789", Some("49"), Ok("4915123456789")),
            ("0049 151 2345 6789", Some("57"), Ok("4915123456789")),
            // The country code in parentheses, with its plus, as address books write it.
            ("(+57) 310 305 5424", Some("1"), Ok("573103055424")),
            ("+ 57 310-305-5424", None, Ok("573103055424")),
            ("00-57-310-305-5424", None, Ok("573103055424")),
            ("310.305.5424", Some("57"), Ok("573103055424")),
            // Too short or too long once the country code is on.
            ("305", Some("57"), Err(PhoneError::TooShort(5))),
            ("5424", Some("+57"), Err(PhoneError::TooShort(6))),
            (
                "310 305 5424 310 305",
                Some("57"),
                Err(PhoneError::TooLong(18)),
            ),
            ("0057 310", None, Err(PhoneError::TooShort(5))),
            ("(+57) +310", None, Err(PhoneError::MisplacedPlus)),
        ];
        for (raw, code, expected) in cases {
            assert_eq!(
                normalize(raw, code).as_deref().map_err(Clone::clone),
                expected,
                "{raw:?} {code:?}"
            );
        }
    }

    #[test]
    fn boundaries_of_length_are_inclusive() {
        assert_eq!(normalize("+1234 5678", None).as_deref(), Ok("12345678"));
        assert_eq!(normalize("+1234567", None), Err(PhoneError::TooShort(7)));
        let fifteen = "+123456789012345";
        assert_eq!(normalize(fifteen, None).as_deref(), Ok("123456789012345"));
        assert_eq!(
            normalize("+1234567890123456", None),
            Err(PhoneError::TooLong(16))
        );
    }

    #[test]
    fn errors_tell_the_person_what_to_fix() {
        let letter = PhoneError::Letter('x').to_string();
        assert!(letter.contains("letter 'x'") && letter.contains("digits"));
        assert!(
            PhoneError::TooShort(5)
                .to_string()
                .contains("only 5 digits")
        );
        assert!(PhoneError::TooLong(18).to_string().contains("at most 15"));
        assert!(
            PhoneError::MissingCountryCode
                .to_string()
                .contains("country code")
        );
        assert!(PhoneError::Empty.to_string().contains("empty"));
    }
}
