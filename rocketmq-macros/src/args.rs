//! The attribute-argument grammar shared by every macro: `key = "lit"`, `key = ident`,
//! `key = 3`, bare `flag`, and nested `key(...)`; with duplicate and unknown-key checks.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Ident, Lit, LitStr, Token};

/// Collects errors so one expansion reports every misuse at once.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub(crate) fn at(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.push(syn::Error::new(span, msg));
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// One argument's value.
#[derive(Clone)]
pub(crate) enum Value {
    /// `flag`
    Flag,
    /// `key = "text"`, `key = 3`, `key = true`
    Lit(Lit),
    /// `key = ident`
    Ident(Ident),
    /// `key(a = 1, b)`
    List(Vec<Arg>),
}

/// `key`, `key = value` or `key(...)`.
#[derive(Clone)]
pub(crate) struct Arg {
    pub(crate) key: Ident,
    pub(crate) value: Value,
}

impl Arg {
    pub(crate) fn name(&self) -> String {
        self.key.unraw().to_string()
    }

    pub(crate) fn span(&self) -> Span {
        match &self.value {
            Value::Lit(l) => self.key.span().join(l.span()).unwrap_or(self.key.span()),
            Value::Ident(i) => self.key.span().join(i.span()).unwrap_or(self.key.span()),
            _ => self.key.span(),
        }
    }

    fn describe(&self) -> &'static str {
        match self.value {
            Value::Flag => "a bare flag",
            Value::Lit(_) => "a literal",
            Value::Ident(_) => "a name",
            Value::List(_) => "a list",
        }
    }

    /// The string literal value.
    pub(crate) fn str(&self) -> syn::Result<LitStr> {
        match &self.value {
            Value::Lit(Lit::Str(s)) => Ok(s.clone()),
            _ => Err(syn::Error::new(
                self.span(),
                format!(
                    "`{}` takes a string: `{} = \"...\"` (found {})",
                    self.name(),
                    self.name(),
                    self.describe()
                ),
            )),
        }
    }

    /// The integer literal value.
    pub(crate) fn int<N>(&self) -> syn::Result<N>
    where
        N: std::str::FromStr,
        N::Err: std::fmt::Display,
    {
        match &self.value {
            Value::Lit(Lit::Int(i)) => i.base10_parse(),
            _ => Err(syn::Error::new(
                self.span(),
                format!(
                    "`{}` takes an integer: `{} = 3` (found {})",
                    self.name(),
                    self.name(),
                    self.describe()
                ),
            )),
        }
    }

    /// A bare flag (or `flag = true|false`).
    pub(crate) fn flag(&self) -> syn::Result<bool> {
        match &self.value {
            Value::Flag => Ok(true),
            Value::Lit(Lit::Bool(b)) => Ok(b.value),
            _ => Err(syn::Error::new(
                self.span(),
                format!(
                    "`{}` is a flag: write `{}` alone (found {})",
                    self.name(),
                    self.name(),
                    self.describe()
                ),
            )),
        }
    }

    /// One of `choices`, written as a name (`key = dead_letter`) or a string.
    pub(crate) fn choice(&self, choices: &[&str]) -> syn::Result<String> {
        let (got, span) = match &self.value {
            Value::Ident(i) => (i.unraw().to_string(), i.span()),
            Value::Lit(Lit::Str(s)) => (s.value(), s.span()),
            _ => (String::new(), self.span()),
        };
        if choices.contains(&got.as_str()) {
            return Ok(got);
        }
        Err(syn::Error::new(
            span,
            format!("`{}` must be one of: {}", self.name(), choices.join(", ")),
        ))
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = Ident::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            if input.peek(Ident::peek_any) {
                Value::Ident(Ident::parse_any(input)?)
            } else {
                Value::Lit(input.parse()?)
            }
        } else if input.peek(syn::token::Paren) {
            let content;
            syn::parenthesized!(content in input);
            Value::List(parse_list(&content)?)
        } else {
            Value::Flag
        };
        Ok(Arg { key, value })
    }
}

fn parse_list(input: ParseStream<'_>) -> syn::Result<Vec<Arg>> {
    Ok(Punctuated::<Arg, Token![,]>::parse_terminated(input)?
        .into_iter()
        .collect())
}

/// Parses an attribute's argument list.
pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Vec<Arg>> {
    parse_list.parse2(tokens)
}

/// The arguments of one attribute, checked against the keys it accepts.
pub(crate) struct Args {
    args: Vec<Arg>,
}

impl Args {
    /// Checks for unknown and duplicate keys (reported into `errors`; the offending
    /// arguments are dropped).
    pub(crate) fn new(args: Vec<Arg>, valid: &[&str], what: &str, errors: &mut Errors) -> Self {
        let mut kept: Vec<Arg> = Vec::with_capacity(args.len());
        for arg in args {
            let name = arg.name();
            if !valid.contains(&name.as_str()) {
                errors.at(
                    arg.key.span(),
                    format!(
                        "unknown {what} option `{name}`; valid options: {}",
                        valid.join(", ")
                    ),
                );
            } else if kept.iter().any(|k| k.name() == name) {
                errors.at(arg.key.span(), format!("duplicate option `{name}`"));
            } else {
                kept.push(arg);
            }
        }
        Args { args: kept }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Arg> {
        self.args.iter().find(|a| a.name() == key)
    }

    /// A string option, validated into `errors`.
    pub(crate) fn str(&self, key: &str, errors: &mut Errors) -> Option<LitStr> {
        let a = self.get(key)?;
        a.str().map_err(|e| errors.push(e)).ok()
    }

    pub(crate) fn int<N>(&self, key: &str, errors: &mut Errors) -> Option<N>
    where
        N: std::str::FromStr,
        N::Err: std::fmt::Display,
    {
        let a = self.get(key)?;
        a.int().map_err(|e| errors.push(e)).ok()
    }

    pub(crate) fn flag(&self, key: &str, errors: &mut Errors) -> bool {
        self.get(key)
            .map(|a| a.flag().map_err(|e| errors.push(e)).unwrap_or(false))
            .unwrap_or(false)
    }

    /// The `crate = "path"` override, `::rocketmq_sdk` by default.
    pub(crate) fn crate_path(&self, key: &str, default: &str, errors: &mut Errors) -> syn::Path {
        if let Some(s) = self.str(key, errors) {
            match s.parse::<syn::Path>() {
                Ok(p) => return p,
                Err(_) => errors.at(
                    s.span(),
                    format!("`{key}` must be a path, like \"::rocketmq_sdk\""),
                ),
            }
        }
        syn::parse_str(default).unwrap_or_else(|_| syn::parse_quote!(::rocketmq_sdk))
    }
}

/// RocketMQ's topic/group character rule (`TopicValidator`): 1–127 of `[%|a-zA-Z0-9_-]`.
pub(crate) fn check_name(kind: &str, lit: &LitStr, errors: &mut Errors) {
    let v = lit.value();
    if v.is_empty() {
        errors.at(lit.span(), format!("the {kind} must not be empty"));
    } else if v.len() > 127 {
        errors.at(
            lit.span(),
            format!("the {kind} is longer than 127 characters"),
        );
    } else if let Some(c) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '%' | '|' | '_' | '-')))
    {
        errors.at(
            lit.span(),
            format!("the {kind} has `{c}`, outside RocketMQ's [%|a-zA-Z0-9_-]"),
        );
    }
}
