//! `#[listener(...)]` on an `async fn`: the function becomes a unit struct of the same
//! name that derefs to the function (so it stays callable) and implements `Listener`.

mod expand;
mod model;

use proc_macro2::TokenStream;

pub(crate) fn listener(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let func: syn::ItemFn = syn::parse2(item)?;
    let model = model::parse(attr, func)?;
    Ok(expand::expand(&model))
}
