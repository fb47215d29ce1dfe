//! `#[derive(Message)]`: parse the container and field attributes into a model, check
//! it, then implement `TypedMessage`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitStr, Member, Type};

use crate::args::{self, Args, Errors};

const CONTAINER_OPTIONS: &[&str] = &["topic", "tag", "crate"];
const FIELD_OPTIONS: &[&str] = &["key", "shard"];

/// What the derive needs to know.
struct Model {
    ident: syn::Ident,
    generics: syn::Generics,
    krate: syn::Path,
    topic: LitStr,
    tag: Option<LitStr>,
    keys: Vec<KeyField>,
    shard: Option<(Member, Type)>,
}

struct KeyField {
    member: Member,
    ty: Type,
    optional: bool,
}

pub(crate) fn derive(input: DeriveInput) -> syn::Result<TokenStream> {
    let model = parse(input)?;
    Ok(expand(&model))
}

fn rocketmq_attrs(attrs: &[syn::Attribute], errors: &mut Errors) -> Vec<args::Arg> {
    let mut out = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("rocketmq")) {
        match attr.parse_args_with(|input: syn::parse::ParseStream<'_>| {
            args::parse(input.parse::<TokenStream>()?)
        }) {
            Ok(a) => out.extend(a),
            Err(e) => errors.push(e),
        }
    }
    out
}

fn parse(input: DeriveInput) -> syn::Result<Model> {
    let mut errors = Errors::default();
    let container = Args::new(
        rocketmq_attrs(&input.attrs, &mut errors),
        CONTAINER_OPTIONS,
        "#[rocketmq]",
        &mut errors,
    );
    let krate = container.crate_path("crate", "::rocketmq_sdk", &mut errors);
    let topic = container.str("topic", &mut errors);
    match &topic {
        Some(t) => args::check_name("topic", t, &mut errors),
        None if container.get("topic").is_none() => errors.at(
            input.ident.span(),
            "missing topic: add `#[rocketmq(topic = \"...\")]` to the type",
        ),
        None => {}
    }
    let tag = container.str("tag", &mut errors);
    if let Some(t) = &tag {
        let v = t.value();
        if v.trim().is_empty() || v.contains("||") || v.trim() == "*" {
            errors.at(
                t.span(),
                "a message has one tag: not empty, not `*`, without `||`",
            );
        }
    }
    let mut keys = Vec::new();
    let mut shard: Option<(Member, Type)> = None;
    let fields: Vec<&syn::Field> = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(f) => f.named.iter().collect(),
            Fields::Unnamed(f) => f.unnamed.iter().collect(),
            Fields::Unit => Vec::new(),
        },
        Data::Enum(e) => {
            for v in &e.variants {
                for f in &v.fields {
                    if f.attrs.iter().any(|a| a.path().is_ident("rocketmq")) {
                        errors.at(
                            f.span(),
                            "`key` and `shard` fields are supported on structs only",
                        );
                    }
                }
            }
            Vec::new()
        }
        Data::Union(u) => {
            errors.at(
                u.union_token.span,
                "`Message` cannot be derived for a union",
            );
            Vec::new()
        }
    };
    for (i, field) in fields.into_iter().enumerate() {
        let field_args = Args::new(
            rocketmq_attrs(&field.attrs, &mut errors),
            FIELD_OPTIONS,
            "field #[rocketmq]",
            &mut errors,
        );
        let member = match &field.ident {
            Some(id) => Member::Named(id.clone()),
            None => Member::Unnamed(syn::Index {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                span: field.span(),
            }),
        };
        if field_args.flag("key", &mut errors) {
            keys.push(KeyField {
                member: member.clone(),
                optional: option_inner(&field.ty).is_some(),
                ty: option_inner(&field.ty)
                    .cloned()
                    .unwrap_or_else(|| field.ty.clone()),
            });
        }
        if field_args.flag("shard", &mut errors) {
            if let Some(arg) = field_args.get("shard")
                && shard.is_some()
            {
                errors.at(
                    arg.key.span(),
                    "only one field can be the `shard` (it picks the queue)",
                );
            } else {
                shard = Some((member, field.ty.clone()));
            }
        }
    }
    errors.finish()?;
    let topic = topic.unwrap_or_else(|| LitStr::new("", Span::call_site()));
    Ok(Model {
        ident: input.ident,
        generics: input.generics,
        krate,
        topic,
        tag,
        keys,
        shard,
    })
}

/// `T` of a field typed `Option<T>`.
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(a) = &last.arguments else {
        return None;
    };
    match a.args.first()? {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

fn expand(m: &Model) -> TokenStream {
    let Model {
        ident,
        generics,
        krate,
        topic,
        ..
    } = m;
    // Generic types: the JSON supertraits become bounds on the impl, so `Pair<T>` is a
    // message wherever `T` serializes.
    let mut generics = generics.clone();
    if !generics.params.is_empty() {
        let (_, ty_generics, _) = m.generics.split_for_impl();
        generics
            .make_where_clause()
            .predicates
            .push(syn::parse_quote!(
                #ident #ty_generics: #krate::__private::serde::Serialize
                    + #krate::__private::serde::de::DeserializeOwned
            ));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let tag = match &m.tag {
        Some(t) => quote!(::core::option::Option::Some(#t)),
        None => quote!(::core::option::Option::None),
    };
    // Conversions are spanned at the field types, so a type that cannot be a key or a
    // shard is reported at the field.
    let pushes = m.keys.iter().map(|k| {
        let member = &k.member;
        let ty = &k.ty;
        let to_string = quote_spanned!(ty.span()=> <#ty as ::std::string::ToString>::to_string);
        if k.optional {
            quote! {
                if let ::core::option::Option::Some(v) = &self.#member {
                    keys.push(#to_string(v));
                }
            }
        } else {
            quote!(keys.push(#to_string(&self.#member));)
        }
    });
    let shard = match &m.shard {
        Some((member, ty)) => {
            let hash = quote_spanned!(ty.span()=> <#ty as #krate::__private::JavaHashCode>::java_hash_code);
            quote!(::core::option::Option::Some(#hash(&self.#member)))
        }
        None => quote!(::core::option::Option::None),
    };
    quote! {
        impl #impl_generics #krate::__private::TypedMessage for #ident #ty_generics #where_clause {
            const TOPIC: &'static str = #topic;
            const TAG: ::core::option::Option<&'static str> = #tag;

            fn keys(&self) -> ::std::vec::Vec<::std::string::String> {
                #[allow(unused_mut)]
                let mut keys = ::std::vec::Vec::new();
                #(#pushes)*
                keys
            }

            fn shard_hash(&self) -> ::core::option::Option<i32> {
                #shard
            }
        }

    }
}
