//! `#[selector]` on `fn(queues: &[MessageQueue], message: &Message, arg: &A) -> usize`:
//! a unit struct of the same name implementing `MessageQueueSelector<A>`, still callable.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType, Type};

use crate::args::{self, Args, Errors};

const OPTIONS: &[&str] = &["crate"];
const HELP: &str = "a selector is `fn(queues: &[MessageQueue], message: &Message, arg: &A) -> usize`, returning the index of the queue";

pub(crate) fn selector(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let func: ItemFn = syn::parse2(item)?;
    let mut errors = Errors::default();
    let args = Args::new(args::parse(attr)?, OPTIONS, "#[selector]", &mut errors);
    let krate = args.crate_path("crate", "::rocketmq_sdk", &mut errors);
    let sig = &func.sig;
    if let Some(a) = &sig.asyncness {
        errors.at(
            a.span,
            format!("a selector is synchronous (it runs inside the send); {HELP}"),
        );
    }
    if !sig.generics.params.is_empty() {
        errors.at(
            sig.generics.span(),
            format!("a selector cannot be generic; {HELP}"),
        );
    }
    let mut tys = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Typed(t) => match &*t.ty {
                Type::Reference(r) if r.mutability.is_none() && r.lifetime.is_none() => {
                    tys.push(r.clone())
                }
                other => errors.at(
                    other.span(),
                    format!("arguments are shared references; {HELP}"),
                ),
            },
            FnArg::Receiver(r) => {
                errors.at(r.span(), format!("a selector is a free function; {HELP}"))
            }
        }
    }
    if sig.inputs.len() != 3 {
        errors.at(
            sig.paren_token.span.join(),
            format!("expected 3 arguments, found {}; {HELP}", sig.inputs.len()),
        );
    }
    let ret = match &sig.output {
        ReturnType::Type(_, t) => Some((**t).clone()),
        ReturnType::Default => {
            errors.at(
                sig.paren_token.span.close(),
                format!("missing `-> usize`; {HELP}"),
            );
            None
        }
    };
    errors.finish()?;
    let (Some(ret), [queues, message, arg]) = (ret, tys.as_slice()) else {
        return Err(syn::Error::new(sig.span(), HELP));
    };
    let arg_ty = &arg.elem;
    let name = &sig.ident;
    let vis = &func.vis;
    let docs: Vec<_> = func
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .collect();
    let inner_name = format_ident!("__rocketmq_selector_{}", name);
    let mut inner = func.clone();
    inner.sig.ident = inner_name.clone();
    inner.vis = syn::Visibility::Inherited;
    let ret_check = quote_spanned!(ret.span()=> let _: usize = __returned;);
    Ok(quote! {
        #(#docs)*
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, Default)]
        #vis struct #name;

        const _: () = {
            #inner

            impl ::core::ops::Deref for #name {
                type Target = fn(#queues, #message, #arg) -> #ret;

                fn deref(&self) -> &Self::Target {
                    const CALL: fn(#queues, #message, #arg) -> #ret = #inner_name;
                    &CALL
                }
            }

            impl #krate::producer::MessageQueueSelector<#arg_ty> for #name {
                fn select(
                    &self,
                    queues: &[#krate::protocol::message::MessageQueue],
                    message: &#krate::protocol::message::Message,
                    arg: &#arg_ty,
                ) -> usize {
                    let __returned = #inner_name(queues, message, arg);
                    #ret_check
                    __returned
                }
            }
        };
    })
}
