//! `#[transaction_listener]` on an `impl` block with `async fn execute(&self, &T)` and
//! `async fn check(&self, &T)`: implements `TypedTransactionListener` for the type.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, ReturnType, Type};

use crate::args::{self, Args, Errors};

const OPTIONS: &[&str] = &["crate"];

struct Method {
    ident: syn::Ident,
    /// Whether it takes the raw message as a second argument.
    takes_message: bool,
    output: Type,
}

struct Model {
    item: ItemImpl,
    krate: syn::Path,
    payload: Type,
    execute: Method,
    check: Method,
}

pub(crate) fn transaction_listener(
    attr: TokenStream,
    item: TokenStream,
) -> syn::Result<TokenStream> {
    let item: ItemImpl = syn::parse2(item)?;
    let model = parse(attr, item)?;
    Ok(expand(&model))
}

fn method<'a>(item: &'a ItemImpl, name: &str) -> Option<&'a ImplItemFn> {
    item.items.iter().find_map(|i| match i {
        ImplItem::Fn(f) if f.sig.ident == name => Some(f),
        _ => None,
    })
}

/// Checks one method; returns it and its payload type.
fn parse_method(f: &ImplItemFn, raw_name: &str, errors: &mut Errors) -> Option<(Method, Type)> {
    let sig = &f.sig;
    let name = sig.ident.to_string();
    let help = format!(
        "expected `async fn {name}(&self, value: &T{}) -> TransactionState`",
        if name == "execute" {
            ", message: &Message (optional)"
        } else {
            ", message: &MessageExt (optional)"
        }
    );
    if sig.asyncness.is_none() {
        errors.at(sig.fn_token.span, format!("`{name}` must be async; {help}"));
    }
    if !sig.generics.params.is_empty() {
        errors.at(
            sig.generics.span(),
            format!("`{name}` cannot be generic; {help}"),
        );
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => {}
        Some(other) => errors.at(other.span(), format!("`{name}` takes `&self`; {help}")),
        None => errors.at(
            sig.paren_token.span.join(),
            format!("`{name}` takes `&self`; {help}"),
        ),
    }
    let payload = match inputs.next() {
        Some(FnArg::Typed(t)) => match &*t.ty {
            Type::Reference(r) if r.mutability.is_none() => Some((*r.elem).clone()),
            other => {
                errors.at(other.span(), format!("the value is borrowed; {help}"));
                None
            }
        },
        Some(other) => {
            errors.at(other.span(), help.clone());
            None
        }
        None => {
            errors.at(
                sig.paren_token.span.join(),
                format!("missing the value argument; {help}"),
            );
            None
        }
    };
    let takes_message = match inputs.next() {
        None => false,
        Some(FnArg::Typed(t)) => match &*t.ty {
            Type::Reference(r) if matches!(&*r.elem, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == raw_name)) => {
                true
            }
            other => {
                errors.at(
                    other.span(),
                    format!("the optional second argument is `&{raw_name}`; {help}"),
                );
                false
            }
        },
        Some(other) => {
            errors.at(other.span(), help.clone());
            false
        }
    };
    if let Some(extra) = inputs.next() {
        errors.at(extra.span(), format!("too many arguments; {help}"));
    }
    let output = match &sig.output {
        ReturnType::Default => {
            errors.at(
                sig.paren_token.span.close(),
                format!("`{name}` must return the transaction state; {help}"),
            );
            return None;
        }
        ReturnType::Type(_, t) => (**t).clone(),
    };
    Some((
        Method {
            ident: sig.ident.clone(),
            takes_message,
            output,
        },
        payload?,
    ))
}

fn parse(attr: TokenStream, item: ItemImpl) -> syn::Result<Model> {
    let mut errors = Errors::default();
    let args = Args::new(
        args::parse(attr)?,
        OPTIONS,
        "#[transaction_listener]",
        &mut errors,
    );
    let krate = args.crate_path("crate", "::rocketmq_sdk", &mut errors);
    if let Some((_, path, _)) = &item.trait_ {
        errors.at(
            path.span(),
            "#[transaction_listener] goes on an inherent `impl Type { ... }`, not a trait impl",
        );
    }
    if !item.generics.params.is_empty() {
        errors.at(
            item.generics.span(),
            "#[transaction_listener] types cannot be generic",
        );
    }
    let self_span = item.self_ty.span();
    let mut found = Vec::new();
    for (name, raw) in [("execute", "Message"), ("check", "MessageExt")] {
        match method(&item, name) {
            Some(f) => found.push(parse_method(f, raw, &mut errors)),
            None => {
                errors.at(
                    self_span,
                    format!(
                        "missing `{name}`: a transaction listener has `async fn execute(&self, value: &T) -> TransactionState` \
                         (runs the local transaction) and `async fn check(&self, value: &T) -> TransactionState` \
                         (answers the broker's check-back)"
                    ),
                );
                found.push(None);
            }
        }
    }
    let check = found.pop().flatten();
    let execute = found.pop().flatten();
    if let (Some((_, a)), Some((_, b))) = (&execute, &check)
        && quote!(#a).to_string() != quote!(#b).to_string()
    {
        errors.at(
            b.span(),
            "`execute` and `check` must take the same message type",
        );
    }
    errors.finish()?;
    let (Some((execute, payload)), Some((check, _))) = (execute, check) else {
        return Err(syn::Error::new(
            Span::call_site(),
            "invalid transaction listener",
        ));
    };
    Ok(Model {
        item,
        krate,
        payload,
        execute,
        check,
    })
}

fn expand(m: &Model) -> TokenStream {
    let krate = &m.krate;
    let p = quote!(#krate::__private);
    let item = &m.item;
    let self_ty = &item.self_ty;
    let payload = &m.payload;
    let call = |method: &Method| {
        let ident = &method.ident;
        if method.takes_message {
            quote!(<#self_ty>::#ident(self, value, message))
        } else {
            quote!(<#self_ty>::#ident(self, value))
        }
    };
    // Each conversion is spanned at its method's return type, where a wrong one is reported.
    let into_state = |method: &Method| {
        let o = &method.output;
        quote_spanned!(o.span()=> <#o as #p::IntoTransactionState>::into_state)
    };
    let (exec_call, exec_state) = (call(&m.execute), into_state(&m.execute));
    let (check_call, check_state) = (call(&m.check), into_state(&m.check));
    let payload_check = quote_spanned!(payload.span()=> #p::assert_typed_message::<#payload>(););
    quote! {
        #item

        const _: () = {
            impl #p::TypedTransactionListener for #self_ty {
                type Message = #payload;

                fn execute_typed<'a>(
                    &'a self,
                    value: &'a #payload,
                    message: &'a #krate::protocol::message::Message,
                ) -> #p::BoxFuture<'a, #krate::producer::TransactionState> {
                    let _ = message;
                    ::std::boxed::Box::pin(async move {
                        #exec_state(#exec_call.await)
                    })
                }

                fn check_typed<'a>(
                    &'a self,
                    value: &'a #payload,
                    message: &'a #krate::protocol::message::MessageExt,
                ) -> #p::BoxFuture<'a, #krate::producer::TransactionState> {
                    let _ = message;
                    ::std::boxed::Box::pin(async move {
                        #check_state(#check_call.await)
                    })
                }
            }

            #[allow(dead_code)]
            fn __rocketmq_checks() {
                #payload_check
            }
        };
    }
}
