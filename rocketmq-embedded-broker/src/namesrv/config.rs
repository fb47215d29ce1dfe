//! The name server's own settings as GET_NAMESRV_CONFIG reports them and
//! UPDATE_NAMESRV_CONFIG changes them (upstream `NamesrvConfig` through `Configuration`):
//! `key=value` lines. Only `orderMessageEnable` changes behaviour here (routes then carry
//! `orderTopicConf`); other keys are kept and reported, as an embedded name server has no
//! thread pools or files for them to tune.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use tracing::info;

/// The settings. Share it behind an `Arc`.
#[derive(Debug)]
pub struct NamesrvSettings {
    values: Mutex<BTreeMap<String, String>>,
    order_message_enable: AtomicBool,
}

impl Default for NamesrvSettings {
    fn default() -> Self {
        let values = [
            ("clusterTest", "false"),
            (
                "configBlackList",
                "configBlackList;configStorePath;kvConfigPath",
            ),
            ("enableAllTopicList", "true"),
            ("enableTopicList", "true"),
            ("notifyMinBrokerIdChanged", "false"),
            ("orderMessageEnable", "false"),
            ("productEnvName", "center"),
            ("scanNotActiveBrokerInterval", "5000"),
            ("waitSecondsForService", "45"),
        ];
        NamesrvSettings {
            values: Mutex::new(
                values
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            order_message_enable: AtomicBool::new(false),
        }
    }
}

/// Parses `java.util.Properties` text the simple way mqadmin writes it: `key=value` lines,
/// `#` and `!` comments, blank lines skipped, whitespace around keys and values trimmed.
pub(crate) fn parse_properties(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| {
            let (k, v) = l.split_once(['=', ':']).unwrap_or((l, ""));
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_owned(), v.trim().to_owned()))
        })
        .collect()
}

/// Writes `key=value` lines (upstream `getAllConfigsFormatString`).
pub(crate) fn format_properties(values: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (k, v) in values {
        out.push_str(k);
        out.push('=');
        out.push_str(v);
        out.push('\n');
    }
    out
}

impl NamesrvSettings {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, String>> {
        self.values.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether routes carry `orderTopicConf` (upstream `orderMessageEnable`, off by
    /// default).
    pub fn order_message_enable(&self) -> bool {
        self.order_message_enable.load(Ordering::Acquire)
    }

    /// The settings as `key=value` lines.
    pub fn format(&self) -> String {
        format_properties(&self.lock())
    }

    /// Applies `key=value` lines (upstream 4.9.8 and 5.0.0 check no black list here);
    /// returns how many keys were set.
    pub(crate) fn update(&self, text: &str) -> usize {
        let props = parse_properties(text);
        if let Some(v) = props.get("orderMessageEnable") {
            self.order_message_enable
                .store(v.eq_ignore_ascii_case("true"), Ordering::Release);
        }
        let n = props.len();
        info!(keys = ?props.keys().collect::<Vec<_>>(), "name server config updated");
        self.lock().extend(props);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_parse_and_order_flag_follows() {
        let s = NamesrvSettings::default();
        assert!(!s.order_message_enable());
        assert_eq!(s.update("# c\norderMessageEnable = true\nx:1\n\n"), 2);
        assert!(s.order_message_enable());
        assert!(s.format().contains("orderMessageEnable=true\n"));
        assert!(s.format().contains("x=1\n"));
    }
}
