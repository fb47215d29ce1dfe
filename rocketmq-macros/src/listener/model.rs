//! The listener model: options from the attribute, the shape of the function's signature,
//! and the checks between them.

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, LitStr, PathArguments, ReturnType, Type};

use crate::args::{self, Args, Errors};

const OPTIONS: &[&str] = &[
    "topic",
    "group",
    "tag",
    "sql",
    "orderly",
    "broadcast",
    "max_reconsume_times",
    "concurrency",
    "consume_from",
    "batch_size",
    "dedupe",
    "on_decode_error",
    "crate",
];
const DEDUPE_OPTIONS: &[&str] = &["key"];
/// Messages per call for a `Vec<T>` listener without `batch_size`: one pull's worth.
const DEFAULT_BATCH: usize = 32;

pub(crate) enum FilterModel {
    Tag(LitStr),
    Sql(LitStr),
}

pub(crate) enum ConsumeFromModel {
    Last,
    First,
    Timestamp(Option<i64>),
}

pub(crate) struct Model {
    pub(crate) func: ItemFn,
    pub(crate) krate: syn::Path,
    pub(crate) topic: LitStr,
    pub(crate) group: LitStr,
    pub(crate) filter: Option<FilterModel>,
    pub(crate) orderly: bool,
    pub(crate) broadcast: bool,
    pub(crate) max_reconsume_times: Option<i32>,
    pub(crate) concurrency: Option<usize>,
    pub(crate) consume_from: Option<ConsumeFromModel>,
    pub(crate) batch_size: Option<usize>,
    /// `Some("uniq_key" | "keys")` when `dedupe` was declared.
    pub(crate) dedupe: Option<String>,
    pub(crate) on_decode_error: String,
    pub(crate) payload: Payload,
    /// Whether the function takes the context as its second argument.
    pub(crate) takes_context: bool,
    pub(crate) output: Type,
}

/// The first argument.
pub(crate) struct Payload {
    /// The element type (`T` of `Vec<T>` for a batch).
    pub(crate) ty: Type,
    /// The argument type as written.
    pub(crate) arg_ty: Type,
    pub(crate) batch: bool,
    pub(crate) raw: bool,
}

fn last_ident(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

fn vec_inner(ty: &Type) -> Option<&Type> {
    let seg = last_ident(ty)?;
    if seg.ident != "Vec" {
        return None;
    }
    match &seg.arguments {
        PathArguments::AngleBracketed(a) => match a.args.first()? {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

fn is_named(ty: &Type, name: &str) -> bool {
    last_ident(ty).is_some_and(|s| s.ident == name && s.arguments.is_none())
}

const ARGUMENT_HELP: &str = "a listener takes a payload (`T: Deserialize`, `MessageExt`, or `Vec` of either for batches), then optionally `ConsumeContext` (`OrderlyContext` when orderly)";

pub(crate) fn parse(attr: TokenStream, func: ItemFn) -> syn::Result<Model> {
    let mut errors = Errors::default();
    let args = Args::new(args::parse(attr)?, OPTIONS, "#[listener]", &mut errors);
    let krate = args.crate_path("crate", "::rocketmq_sdk", &mut errors);

    let topic = args.str("topic", &mut errors);
    let group = args.str("group", &mut errors);
    for (kind, v) in [("topic", &topic), ("group", &group)] {
        match v {
            Some(lit) => args::check_name(kind, lit, &mut errors),
            None if args.get(kind).is_none() => errors.at(
                Span::call_site(),
                format!("missing {kind}: add `{kind} = \"...\"` to #[listener(...)]"),
            ),
            None => {}
        }
    }
    let tag = args.str("tag", &mut errors);
    let sql = args.str("sql", &mut errors);
    let filter = match (tag, sql) {
        (Some(_), Some(s)) => {
            errors.at(
                args.get("sql").map_or(s.span(), |a| a.key.span()),
                "`tag` and `sql` are exclusive: a subscription has one filter",
            );
            None
        }
        (Some(t), None) => {
            if t.value().trim().is_empty() {
                errors.at(
                    t.span(),
                    "the tag expression must not be empty (use \"*\" for all)",
                );
            }
            Some(FilterModel::Tag(t))
        }
        (None, Some(s)) => {
            if s.value().trim().is_empty() {
                errors.at(s.span(), "the SQL92 expression must not be empty");
            }
            Some(FilterModel::Sql(s))
        }
        (None, None) => None,
    };
    let orderly = args.flag("orderly", &mut errors);
    let broadcast = args.flag("broadcast", &mut errors);
    if orderly && broadcast {
        errors.at(
            args.get("broadcast").map_or(Span::call_site(), |a| a.key.span()),
            "`orderly` and `broadcast` cannot be combined: orderly consumption locks queues for one member of a clustering group",
        );
    }
    let max_reconsume_times = args.int::<i32>("max_reconsume_times", &mut errors);
    if let (Some(n), Some(a)) = (max_reconsume_times, args.get("max_reconsume_times"))
        && !(-1..=16 * 1024).contains(&n)
    {
        errors.at(
            a.span(),
            "`max_reconsume_times` must be -1 (the default, 16) or more",
        );
    }
    let concurrency = args.int::<usize>("concurrency", &mut errors);
    if let (Some(0), Some(a)) = (concurrency, args.get("concurrency")) {
        errors.at(a.span(), "`concurrency` must be at least 1");
    }
    let batch_size = args.int::<usize>("batch_size", &mut errors);
    if let (Some(n), Some(a)) = (batch_size, args.get("batch_size"))
        && !(1..=1024).contains(&n)
    {
        errors.at(a.span(), "`batch_size` must be between 1 and 1024");
    }
    let consume_from = args.get("consume_from").and_then(|a| {
        let parsed = match &a.value {
            args::Value::Ident(_) | args::Value::Lit(syn::Lit::Str(_)) => a
                .choice(&["last_offset", "first_offset", "timestamp"])
                .map(|c| match c.as_str() {
                    "first_offset" => ConsumeFromModel::First,
                    "timestamp" => ConsumeFromModel::Timestamp(None),
                    _ => ConsumeFromModel::Last,
                }),
            args::Value::List(_) => Err(syn::Error::new(
                a.span(),
                "`consume_from` takes last_offset, first_offset, timestamp, or a timestamp in ms",
            )),
            args::Value::Lit(syn::Lit::Int(i)) => i
                .base10_parse()
                .map(|ms| ConsumeFromModel::Timestamp(Some(ms))),
            _ => Err(syn::Error::new(
                a.span(),
                "`consume_from` takes last_offset, first_offset, timestamp, or a timestamp in ms",
            )),
        };
        parsed.map_err(|e| errors.push(e)).ok()
    });
    let dedupe = args.get("dedupe").and_then(|a| match &a.value {
        args::Value::Flag => Some("uniq_key".to_owned()),
        args::Value::List(list) => {
            let inner = Args::new(list.clone(), DEDUPE_OPTIONS, "dedupe(...)", &mut errors);
            match inner.get("key") {
                Some(k) => k
                    .choice(&["uniq_key", "keys"])
                    .map_err(|e| errors.push(e))
                    .ok(),
                None => Some("uniq_key".to_owned()),
            }
        }
        _ => {
            errors.at(a.span(), "write `dedupe` or `dedupe(key = keys)`");
            None
        }
    });
    let on_decode_error = args
        .get("on_decode_error")
        .and_then(|a| {
            a.choice(&["dead_letter", "retry", "skip"])
                .map_err(|e| errors.push(e))
                .ok()
        })
        .unwrap_or_else(|| "dead_letter".to_owned());

    // The function.
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token.span,
            "#[listener] needs an `async fn`: listeners run on the consumer's tokio tasks",
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            sig.generics.span(),
            "a listener cannot be generic: its payload type decides how messages decode",
        );
    }
    if let Some(v) = &sig.variadic {
        errors.at(v.span(), "a listener cannot be variadic");
    }
    let mut payload = None;
    let mut takes_context = false;
    let expected_ctx = if orderly {
        "OrderlyContext"
    } else {
        "ConsumeContext"
    };
    for (i, input) in sig.inputs.iter().enumerate() {
        let ty = match input {
            FnArg::Receiver(r) => {
                errors.at(
                    r.span(),
                    "a listener is a free function, not a method (no `self`)",
                );
                continue;
            }
            FnArg::Typed(t) => &*t.ty,
        };
        match i {
            0 => {
                if !matches!(ty, Type::Path(_)) {
                    errors.at(
                        ty.span(),
                        format!("unsupported listener argument: arguments are owned values; {ARGUMENT_HELP}"),
                    );
                    continue;
                }
                if is_named(ty, "ConsumeContext") || is_named(ty, "OrderlyContext") {
                    errors.at(
                        ty.span(),
                        format!("the payload comes first; {ARGUMENT_HELP}"),
                    );
                    continue;
                }
                let (elem, batch) = match vec_inner(ty) {
                    Some(inner) => (inner.clone(), true),
                    None => (ty.clone(), false),
                };
                if !matches!(elem, Type::Path(_)) {
                    errors.at(
                        elem.span(),
                        format!("unsupported listener argument; {ARGUMENT_HELP}"),
                    );
                    continue;
                }
                payload = Some(Payload {
                    raw: is_named(&elem, "MessageExt"),
                    ty: elem,
                    arg_ty: ty.clone(),
                    batch,
                });
            }
            1 => {
                if is_named(ty, expected_ctx) {
                    takes_context = true;
                } else if is_named(ty, "ConsumeContext") || is_named(ty, "OrderlyContext") {
                    errors.at(
                        ty.span(),
                        format!(
                            "this listener is {}: its context is `{expected_ctx}`",
                            if orderly { "orderly" } else { "concurrent" }
                        ),
                    );
                } else {
                    errors.at(
                        ty.span(),
                        format!("unsupported listener argument: the second argument is the context, `{expected_ctx}`"),
                    );
                }
            }
            _ => errors.at(input.span(), format!("too many arguments; {ARGUMENT_HELP}")),
        }
    }
    if sig.inputs.is_empty() {
        errors.at(
            sig.paren_token.span.join(),
            format!("missing the payload argument; {ARGUMENT_HELP}"),
        );
    }
    if let (Some(p), Some(a)) = (&payload, args.get("batch_size"))
        && !p.batch
    {
        errors.at(
            a.key.span(),
            "`batch_size` needs a batch listener: take `Vec<T>`",
        );
    }
    if let (Some(p), Some(a)) = (&payload, args.get("dedupe"))
        && p.batch
    {
        // Dedupe runs message by message; a batch function cannot be split.
        errors.at(
            a.key.span(),
            "`dedupe` works on one message at a time: take `T`, not `Vec<T>`",
        );
    }
    let output = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => {
            if matches!(**ty, Type::ImplTrait(_)) {
                errors.at(
                    ty.span(),
                    "a listener returns a concrete type: `()`, `Result<(), E>` or `Outcome`",
                );
            }
            (**ty).clone()
        }
    };
    errors.finish()?;
    let payload = payload.ok_or_else(|| syn::Error::new(Span::call_site(), ARGUMENT_HELP))?;
    let batch_size = match (batch_size, payload.batch) {
        (None, true) => Some(DEFAULT_BATCH),
        (b, _) => b,
    };
    Ok(Model {
        topic: topic.unwrap_or_else(|| LitStr::new("", Span::call_site())),
        group: group.unwrap_or_else(|| LitStr::new("", Span::call_site())),
        func,
        krate,
        filter,
        orderly,
        broadcast,
        max_reconsume_times,
        concurrency,
        consume_from,
        batch_size,
        dedupe,
        on_decode_error,
        payload,
        takes_context,
        output,
    })
}
