//! Code generation for `#[listener]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::{ConsumeFromModel, FilterModel, Model};

pub(crate) fn expand(m: &Model) -> TokenStream {
    let krate = &m.krate;
    let p = quote!(#krate::__private);
    let func = &m.func;
    let name = &func.sig.ident;
    let name_str = name.to_string();
    let vis = &func.vis;
    let docs: Vec<_> = func
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .collect();
    let inner_name = format_ident!("__rocketmq_listener_{}", name);
    let mut inner = func.clone();
    inner.sig.ident = inner_name.clone();
    inner.vis = syn::Visibility::Inherited;

    let output = &m.output;
    let arg_ty = &m.payload.arg_ty;
    let elem_ty = &m.payload.ty;
    let ctx_ty = if m.orderly {
        quote!(#krate::consumer::OrderlyContext)
    } else {
        quote!(#krate::consumer::ConsumeContext)
    };
    // The callable shape: the function's own argument list.
    let (fn_ptr_args, call_args, closure_args) = if m.takes_context {
        (
            quote!(#arg_ty, #ctx_ty),
            quote!(__payload, __context),
            quote!(__payload: #arg_ty, __context: #ctx_ty),
        )
    } else {
        (
            quote!(#arg_ty),
            quote!(__payload),
            quote!(__payload: #arg_ty),
        )
    };
    let adapter_call = if m.takes_context {
        quote!(#inner_name(__payload, __context))
    } else {
        quote!(#inner_name(__payload))
    };

    let topic = &m.topic;
    let group = &m.group;
    let mut spec = quote!(#p::ListenerSpec::new(#name_str, #topic, #group));
    match &m.filter {
        Some(FilterModel::Tag(t)) => {
            spec.extend(quote!(.filter(#p::Filter::Tag(::std::string::String::from(#t)))))
        }
        Some(FilterModel::Sql(s)) => {
            spec.extend(quote!(.filter(#p::Filter::Sql(::std::string::String::from(#s)))))
        }
        None => {}
    }
    if m.orderly {
        spec.extend(quote!(.orderly(true)));
    }
    if m.broadcast {
        spec.extend(quote!(.broadcast(true)));
    }
    if let Some(n) = m.max_reconsume_times {
        spec.extend(quote!(.max_reconsume_times(#n)));
    }
    if let Some(n) = m.concurrency {
        spec.extend(quote!(.concurrency(#n)));
    }
    if let Some(n) = m.batch_size {
        spec.extend(quote!(.batch_size(#n)));
    }
    if let Some(from) = &m.consume_from {
        let from = match from {
            ConsumeFromModel::Last => quote!(#p::ConsumeFrom::LastOffset),
            ConsumeFromModel::First => quote!(#p::ConsumeFrom::FirstOffset),
            ConsumeFromModel::Timestamp(None) => {
                quote!(#p::ConsumeFrom::Timestamp(::core::option::Option::None))
            }
            ConsumeFromModel::Timestamp(Some(ms)) => {
                quote!(#p::ConsumeFrom::Timestamp(::core::option::Option::Some(#ms)))
            }
        };
        spec.extend(quote!(.consume_from(#from)));
    }
    if let Some(key) = &m.dedupe {
        let kind = if key == "keys" {
            quote!(#p::DedupeKeyKind::Keys)
        } else {
            quote!(#p::DedupeKeyKind::UniqKey)
        };
        spec.extend(quote!(.dedupe(#kind)));
    }

    let policy = match m.on_decode_error.as_str() {
        "retry" => quote!(#p::DecodeErrorPolicy::Retry),
        "skip" => quote!(#p::DecodeErrorPolicy::Skip),
        _ => quote!(#p::DecodeErrorPolicy::DeadLetter),
    };
    let decode = if m.payload.raw {
        quote!(#p::decode_raw)
    } else {
        quote!(<#elem_ty as #p::Payload>::decode)
    };
    let adapter = if m.payload.batch {
        quote!(#p::Batch)
    } else {
        quote!(#p::Single)
    };
    let handler_kind = if m.orderly {
        quote!(orderly)
    } else {
        quote!(concurrent)
    };
    // The conversion is spanned at the return type, so a wrong one is reported there.
    let into_outcome = quote_spanned!(output.span()=> <#output as #p::IntoOutcome>::into_outcome);
    let adapter_closure = quote! {
        |__payload: #arg_ty, __context: #ctx_ty| async move { #into_outcome(#adapter_call.await) }
    };

    quote! {
        #(#docs)*
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, Default)]
        #vis struct #name;

        const _: () = {
            #inner

            impl ::core::ops::Deref for #name {
                type Target = fn(#fn_ptr_args) -> #p::BoxFuture<'static, #output>;

                fn deref(&self) -> &Self::Target {
                    const CALL: fn(#fn_ptr_args) -> #p::BoxFuture<'static, #output> =
                        |#closure_args| ::std::boxed::Box::pin(#inner_name(#call_args));
                    &CALL
                }
            }

            impl #p::Listener for #name {
                fn spec(&self) -> #p::ListenerSpec {
                    #spec
                }

                fn handler(&self) -> #p::Handler {
                    #p::Handler::#handler_kind(#adapter::<#elem_ty, #ctx_ty, _>::new(
                        #name_str,
                        #policy,
                        #decode,
                        #adapter_closure,
                    ))
                }
            }

        };
    }
}
