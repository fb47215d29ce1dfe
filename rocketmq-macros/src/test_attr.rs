//! `#[rocketmq_sdk::test]`: a `#[test]` that runs the async body on a fresh embedded
//! broker (and optionally a client connected to it), in the style of `sqlx::test`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType, Type};

use crate::args::{self, Args, Errors};

const OPTIONS: &[&str] = &[
    "store",
    "flush",
    "brokers",
    "queues",
    "delay_levels",
    "manual_clock",
    "auto_create_topics",
    "transaction_check_ms",
    "crate",
    "broker_crate",
];
const PARAM_HELP: &str = "test parameters pick what is started: `broker: EmbeddedBroker` and/or `client: Client` (connected to it)";

enum Param {
    Broker,
    Client,
}

pub(crate) fn test(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let func: ItemFn = syn::parse2(item)?;
    let mut errors = Errors::default();
    let args = Args::new(
        args::parse(attr)?,
        OPTIONS,
        "#[rocketmq_sdk::test]",
        &mut errors,
    );
    // Accepted for symmetry with the other macros; the expansion names only the broker crate.
    let _ = args.crate_path("crate", "::rocketmq_sdk", &mut errors);
    let bk = args.crate_path("broker_crate", "::rocketmq_embedded_broker", &mut errors);
    let mut options = quote!(#bk::__private::TestOptions::new());
    if let Some(a) = args.get("store") {
        match a.choice(&["memory", "disk"]) {
            Ok(s) if s == "disk" => options.extend(quote!(.disk())),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    if let Some(a) = args.get("flush") {
        match a.choice(&["sync", "async"]) {
            Ok(s) if s == "sync" => options.extend(quote!(.sync_flush())),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
        if args
            .get("store")
            .is_none_or(|s| s.choice(&["disk"]).is_err())
        {
            errors.at(
                a.key.span(),
                "`flush` needs `store = \"disk\"` (a memory store has nothing to flush)",
            );
        }
    }
    for (key, method) in [("brokers", quote!(brokers)), ("queues", quote!(queues))] {
        if let Some(n) = args.int::<usize>(key, &mut errors) {
            if n == 0 || n > 64 {
                if let Some(a) = args.get(key) {
                    errors.at(a.span(), format!("`{key}` must be between 1 and 64"));
                }
            } else {
                options.extend(quote!(.#method(#n)));
            }
        }
    }
    if let Some(levels) = args.str("delay_levels", &mut errors) {
        options.extend(quote!(.delay_levels(#levels)));
    }
    if args.flag("manual_clock", &mut errors) {
        options.extend(quote!(.manual_clock()));
    }
    if let Some(ms) = args.int::<u64>("transaction_check_ms", &mut errors) {
        options.extend(quote!(.transaction_check_ms(#ms)));
    }
    if let Some(a) = args.get("auto_create_topics") {
        match a.flag() {
            Ok(b) => options.extend(quote!(.auto_create_topics(#b))),
            Err(e) => errors.push(e),
        }
    }

    let sig = &func.sig;
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token.span,
            "#[rocketmq_sdk::test] needs an `async fn`: the broker runs on the test's tokio runtime",
        );
    }
    if !sig.generics.params.is_empty() {
        errors.at(sig.generics.span(), "a test function cannot be generic");
    }
    let mut params: Vec<(Param, syn::Pat, Type)> = Vec::new();
    for input in &sig.inputs {
        let FnArg::Typed(t) = input else {
            errors.at(input.span(), PARAM_HELP);
            continue;
        };
        let kind = match &*t.ty {
            Type::Path(p) => match p.path.segments.last().map(|s| s.ident.to_string()) {
                Some(s) if s == "EmbeddedBroker" => Some(Param::Broker),
                Some(s) if s == "Client" => Some(Param::Client),
                _ => None,
            },
            _ => None,
        };
        let Some(kind) = kind else {
            errors.at(
                t.ty.span(),
                format!("unsupported test parameter; {PARAM_HELP}"),
            );
            continue;
        };
        if params
            .iter()
            .any(|(k, _, _)| std::mem::discriminant(k) == std::mem::discriminant(&kind))
        {
            errors.at(
                t.span(),
                "each of `EmbeddedBroker` and `Client` can be asked for once",
            );
            continue;
        }
        params.push((kind, (*t.pat).clone(), (*t.ty).clone()));
    }
    errors.finish()?;

    let wants_client = params.iter().any(|(k, _, _)| matches!(k, Param::Client));
    let wants_broker = params.iter().any(|(k, _, _)| matches!(k, Param::Broker));
    let bindings = params.iter().map(|(kind, pat, ty)| match kind {
        Param::Broker => quote!(let #pat: #ty = #bk::__private::expect_broker(__broker);),
        Param::Client => quote!(let #pat: #ty = #bk::__private::expect_client(__client);),
    });
    // Without a broker parameter the broker still lives as long as the body.
    let keep = if params.iter().any(|(k, _, _)| matches!(k, Param::Broker)) {
        quote!()
    } else {
        quote!(let _broker = __broker;)
    };
    let attrs = &func.attrs;
    let vis = &func.vis;
    let name = &sig.ident;
    let output = &sig.output;
    let ret_ty = match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, t) => quote!(#t),
    };
    // A skipped test passes: `()` or `Ok(())` (a test returns one of the two).
    let skipped = match output {
        ReturnType::Default => quote!(return;),
        ReturnType::Type(..) => quote!(return ::core::result::Result::Ok(());),
    };
    let body = &func.block;
    let name_str = name.to_string();
    Ok(quote! {
            #(#attrs)*
            #[::core::prelude::v1::test]
            #vis fn #name() #output {
                let __options = #options
                    .with_client(#wants_client)
                    .with_broker(#wants_broker);
                let __name = ::core::concat!(::core::module_path!(), "::", #name_str);
                if __options.skip_external(__name) {
                    #skipped
                }
                #bk::__private::run_test(
                    __name,
                    __options,
                    |__env: #bk::__private::TestEnv| async move {
                        let #bk::__private::TestEnv { broker: __broker, client: __client, .. } = __env;
                        #(#bindings)*
                        #keep
                        let __result: #ret_ty = #body;
                        __result
                    },
                )
            }
    })
}
