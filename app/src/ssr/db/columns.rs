//! How values that are not plain numbers, text or bytes are stored, the same way on both
//! backends: domain enums as their text code, flags as booleans.

use sqlx::{
    any::{AnyTypeInfo, AnyTypeInfoKind, AnyValueRef},
    encode::IsNull,
    error::BoxDynError,
    Decode, Encode, Type, Value, ValueRef,
};

use super::Db;
use crate::domain::{AccountStatus, AuthMethod, Encryption, ProviderKind, Role};

/// A boolean column as both backends hand it back: PostgreSQL's `BOOLEAN` arrives as a
/// boolean, SQLite's as the integer 0 or 1, which sqlx's `Any` driver will not decode as
/// `bool`. Row fields use it with `#[sqlx(try_from = "Flag")]` and stay plain `bool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(f: Flag) -> bool {
        f.0
    }
}

impl Type<Db> for Flag {
    fn type_info() -> AnyTypeInfo {
        <bool as Type<Db>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        ty.kind() == AnyTypeInfoKind::Bool || ty.kind().is_integer()
    }
}

impl<'r> Decode<'r, Db> for Flag {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        // A borrowed value cannot be decoded twice; the owned copy of a boolean or an integer
        // costs nothing and can.
        let owned = ValueRef::to_owned(&value);
        if let Ok(b) = <bool as Decode<Db>>::decode(owned.as_ref()) {
            return Ok(Flag(b));
        }
        let n = <i64 as Decode<Db>>::decode(owned.as_ref())?;
        Ok(Flag(n != 0))
    }
}

/// Stores an enum as its text code: `(Type, code method, array of every variant)`.
macro_rules! text_column {
    ($ty:ty, $code:ident, $all:expr) => {
        impl Type<Db> for $ty {
            fn type_info() -> AnyTypeInfo {
                <str as Type<Db>>::type_info()
            }

            fn compatible(ty: &AnyTypeInfo) -> bool {
                <str as Type<Db>>::compatible(ty)
            }
        }

        impl<'q> Encode<'q, Db> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut <Db as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<IsNull, BoxDynError> {
                <&str as Encode<'q, Db>>::encode(self.$code(), buf)
            }
        }

        impl<'r> Decode<'r, Db> for $ty {
            fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&str as Decode<Db>>::decode(value)?;
                $all.into_iter().find(|v| v.$code() == text).ok_or_else(|| {
                    format!(concat!("'{}' is not a stored ", stringify!($ty)), text).into()
                })
            }
        }
    };
}

text_column!(Role, as_str, [Role::Admin, Role::User]);
text_column!(AuthMethod, code, [AuthMethod::Password, AuthMethod::OAuth2]);
text_column!(ProviderKind, code, ProviderKind::ALL);
text_column!(Encryption, code, Encryption::ALL);
text_column!(AccountStatus, code, AccountStatus::ALL);
text_column!(
    crate::domain::DeliveryState,
    code,
    crate::domain::DeliveryState::ALL
);

/// A nullable boolean column: `#[sqlx(try_from = "OptFlag")]` on an `Option<bool>` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptFlag(pub Option<bool>);

impl From<OptFlag> for Option<bool> {
    fn from(f: OptFlag) -> Option<bool> {
        f.0
    }
}

impl Type<Db> for OptFlag {
    fn type_info() -> AnyTypeInfo {
        <Flag as Type<Db>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        ty.kind() == AnyTypeInfoKind::Null || <Flag as Type<Db>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Db> for OptFlag {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.is_null() {
            return Ok(OptFlag(None));
        }
        <Flag as Decode<Db>>::decode(value).map(|f| OptFlag(Some(f.0)))
    }
}
