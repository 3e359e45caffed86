//! Free-text fields: trimmed, bounded in characters, and free of control characters (which have
//! no business in a name and make logs and pages lie).

/// Trims `raw` and checks it is `min..=max` characters with no control characters.
/// The message never repeats the input, so hostile text is not echoed back.
pub fn bounded(raw: &str, min: usize, max: usize) -> Result<String, String> {
    let value = raw.trim();
    let len = value.chars().count();
    if len < min {
        return Err(if min == 1 {
            "is required".to_string()
        } else {
            format!("must be at least {min} characters")
        });
    }
    if len > max {
        return Err(format!("must be at most {max} characters (got {len})"));
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".to_string());
    }
    Ok(value.to_string())
}

/// The organisation name shown in the header and on the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationName(String);

impl OrganisationName {
    pub const LABEL: &'static str = "Organisation name";

    pub fn parse(raw: &str) -> Result<Self, String> {
        bounded(raw, 1, 80).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trims_and_bounds() {
        assert_eq!(OrganisationName::parse("  Acme ").unwrap().as_str(), "Acme");
        assert_eq!(OrganisationName::parse("   ").unwrap_err(), "is required");
        assert!(OrganisationName::parse(&"x".repeat(81)).is_err());
        assert!(OrganisationName::parse("a\u{0}b").is_err());
    }

    proptest! {
        #[test]
        fn never_panics_and_output_is_clean(s in ".*") {
            if let Ok(name) = OrganisationName::parse(&s) {
                prop_assert!(!name.as_str().chars().any(char::is_control));
                prop_assert!(name.as_str().chars().count() <= 80);
                prop_assert_eq!(OrganisationName::parse(name.as_str()).unwrap(), name);
            }
        }
    }
}
