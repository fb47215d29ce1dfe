//! `command_header!`: one declaration per header, and `java_enum!` for enums that travel
//! by name.

/// Declares a custom-header struct and implements [`CommandHeader`] for it.
///
/// Each field is `name: Type = kind "javaName" [=> default]`, where `kind` is
/// * `required` — `@CFNotNull`: always written, a missing key is
///   [`ProtocolError::MissingField`];
/// * `optional` — nullable: the type is `Option<T>`, `None` is omitted;
/// * `primitive` — a Java primitive (or a field with a non-null initializer): always
///   written, a missing key reads as the default;
/// * `base` (no wire name) — an embedded header such as [`RpcBase`], written and read
///   with its own [`CommandHeader`] impl.
///
/// `=> default` sets the value used by `Default` (and by a missing `primitive`);
/// without it `Default::default()` is used. Keys are written in declaration order.
///
/// [`CommandHeader`]: crate::protocol::header::CommandHeader
/// [`ProtocolError::MissingField`]: crate::protocol::ProtocolError::MissingField
/// [`RpcBase`]: crate::protocol::header::RpcBase
macro_rules! command_header {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty = $kind:ident $($wire:literal)? $(=> $default:expr)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $name {
            /// The Java field names this header declares itself (embedded bases excluded),
            /// in write order.
            pub const WIRE_NAMES: &'static [&'static str] = &[$($($wire,)?)*];
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    $( $field: $crate::protocol::header::macros::command_header!(
                        @default $ty $(, $default)?
                    ), )*
                }
            }
        }

        impl $crate::protocol::header::CommandHeader for $name {
            fn write_to(&self, ext: &mut $crate::protocol::ExtFields) {
                $( $crate::protocol::header::macros::command_header!(
                    @write $kind ext, self.$field $(, $wire)?
                ); )*
            }

            fn read_from(
                ext: &$crate::protocol::ExtFields,
            ) -> Result<Self, $crate::protocol::ProtocolError> {
                Ok($name {
                    $( $field: $crate::protocol::header::macros::command_header!(
                        @read $kind ext, $ty $(, $wire)? $(=> $default)?
                    ), )*
                })
            }
        }
    };

    (@default $ty:ty) => { <$ty as Default>::default() };
    (@default $ty:ty, $default:expr) => { $default };

    (@write required $ext:ident, $value:expr, $wire:literal) => {
        $crate::protocol::header::value::write_value($ext, $wire, &$value)
    };
    (@write primitive $ext:ident, $value:expr, $wire:literal) => {
        $crate::protocol::header::value::write_value($ext, $wire, &$value)
    };
    (@write optional $ext:ident, $value:expr, $wire:literal) => {
        $crate::protocol::header::value::write_optional($ext, $wire, &$value)
    };
    (@write base $ext:ident, $value:expr) => {
        $crate::protocol::header::CommandHeader::write_to(&$value, $ext)
    };

    (@read required $ext:ident, $ty:ty, $wire:literal $(=> $default:expr)?) => {
        $crate::protocol::header::value::read_required::<$ty>($ext, $wire)?
    };
    (@read optional $ext:ident, $ty:ty, $wire:literal $(=> $default:expr)?) => {
        $crate::protocol::header::value::read_optional($ext, $wire)?
    };
    (@read primitive $ext:ident, $ty:ty, $wire:literal) => {
        $crate::protocol::header::value::read_or::<$ty>($ext, $wire, <$ty as Default>::default())?
    };
    (@read primitive $ext:ident, $ty:ty, $wire:literal => $default:expr) => {
        $crate::protocol::header::value::read_or::<$ty>($ext, $wire, $default)?
    };
    (@read base $ext:ident, $ty:ty) => {
        <$ty as $crate::protocol::header::CommandHeader>::read_from($ext)?
    };
}

/// Declares a Java enum that travels by name: serde writes the name and reads the name or
/// the ordinal (C++ clients send ordinals), and as a header value it is the name.
macro_rules! java_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $java:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $name {
            /// Every value, in Java ordinal order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The Java enum constant name.
            pub fn name(self) -> &'static str {
                match self { $( $name::$variant => $java, )* }
            }

            /// The Java ordinal.
            pub fn ordinal(self) -> u32 {
                Self::ALL.iter().position(|v| *v == self).unwrap_or(0) as u32
            }

            /// Parses a Java constant name (exact case, as `Enum.valueOf`).
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $( $java => Some($name::$variant), )* _ => None }
            }

            /// The constant with this Java ordinal.
            pub fn from_ordinal(ordinal: u64) -> Option<Self> {
                usize::try_from(ordinal).ok().and_then(|i| Self::ALL.get(i).copied())
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl ::serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        write!(f, "a {} name or ordinal", stringify!($name))
                    }
                    fn visit_str<E: ::serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::from_name(v)
                            .ok_or_else(|| E::unknown_variant(v, &[$($java,)*]))
                    }
                    fn visit_u64<E: ::serde::de::Error>(self, v: u64) -> Result<$name, E> {
                        $name::from_ordinal(v).ok_or_else(|| {
                            E::invalid_value(::serde::de::Unexpected::Unsigned(v), &self)
                        })
                    }
                    fn visit_i64<E: ::serde::de::Error>(self, v: i64) -> Result<$name, E> {
                        u64::try_from(v)
                            .ok()
                            .and_then($name::from_ordinal)
                            .ok_or_else(|| {
                                E::invalid_value(::serde::de::Unexpected::Signed(v), &self)
                            })
                    }
                }
                d.deserialize_any(V)
            }
        }

        impl $crate::protocol::header::HeaderValue for $name {
            fn to_header_value(&self) -> ::std::borrow::Cow<'_, str> {
                ::std::borrow::Cow::Borrowed(self.name())
            }

            fn parse_header_value(s: &str) -> Option<Self> {
                $name::from_name(s.trim())
            }
        }
    };
}

pub(crate) use command_header;
pub(crate) use java_enum;
