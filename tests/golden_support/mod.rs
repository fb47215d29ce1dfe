//! Loading of the golden transcripts in `tests/golden/` (captures of real Java clients
//! against real Java name servers and brokers; see `tests/golden/README.md`).
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::Value;

/// Versions captured, each a directory under `tests/golden/`.
pub const VERSIONS: [&str; 2] = ["4.9.8", "5.0.0"];

/// Which listening side a frame's connection goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Server {
    NameServer,
    Broker,
}

/// One captured frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Line number in the file (1-based), for messages.
    pub line: usize,
    pub t: f64,
    pub conn: String,
    /// True for frames sent to the listening side.
    pub c2s: bool,
    pub server: Server,
    pub code: i32,
    pub opaque: i32,
    pub flag: i32,
    pub is_response: bool,
    pub oneway: bool,
    pub serialize_type: u8,
    /// The header as captured (`code`, `extFields`, `flag`, `language`, ...).
    pub header: Value,
    pub header_raw: Vec<u8>,
    pub body: Bytes,
    pub frame_len: usize,
    pub step: String,
}

impl Frame {
    /// The captured `extFields`, every value as its string (they are all strings in
    /// these captures).
    pub fn ext(&self) -> Vec<(String, String)> {
        match self.header.get("extFields") {
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), s)
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// One captured extField.
    pub fn ext_get(&self, key: &str) -> Option<String> {
        self.header
            .get("extFields")
            .and_then(|m| m.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    }

    /// The captured remark.
    pub fn remark(&self) -> Option<&str> {
        self.header.get("remark").and_then(|v| v.as_str())
    }

    /// The frame as it was on the wire, length prefix included.
    pub fn wire(&self) -> BytesMut {
        let mut b = BytesMut::with_capacity(self.frame_len);
        b.put_u32((4 + self.header_raw.len() + self.body.len()) as u32);
        b.put_u32(((self.serialize_type as u32) << 24) | self.header_raw.len() as u32);
        b.put_slice(&self.header_raw);
        b.put_slice(&self.body);
        b
    }

    /// Where the frame is, for assertion messages.
    pub fn at(&self, t: &Transcript) -> String {
        format!(
            "{}/{} line {} ({} code {} opaque {} on {})",
            t.version,
            t.name,
            self.line,
            if self.c2s { "c2s" } else { "s2c" },
            self.code,
            self.opaque,
            self.conn
        )
    }
}

/// One capture file.
#[derive(Debug, Clone)]
pub struct Transcript {
    pub version: &'static str,
    /// File stem, e.g. `01-route-producer`.
    pub name: String,
    pub frames: Vec<Frame>,
}

impl Transcript {
    /// Whether this is the capture of `scenario` (the number prefix, e.g. `"07"`).
    pub fn is(&self, scenario: &str) -> bool {
        self.name.starts_with(scenario)
    }

    /// The response to request `req` on the same connection, if the capture has one.
    pub fn response_to(&self, req: &Frame) -> Option<&Frame> {
        self.frames.iter().find(|f| {
            f.is_response && f.conn == req.conn && f.opaque == req.opaque && f.c2s != req.c2s
        })
    }
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
}

/// Decodes lowercase or uppercase hex.
pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn parse_frame(line_no: usize, line: &str) -> Frame {
    let v: Value = serde_json::from_str(line).expect("transcript line is JSON");
    let int = |k: &str| {
        v[k].as_i64()
            .unwrap_or_else(|| panic!("line {line_no}: {k}"))
    };
    let server = match v["server"].as_str() {
        Some("namesrv") => Server::NameServer,
        Some("broker") | Some("broker-vip") => Server::Broker,
        other => panic!("line {line_no}: server {other:?}"),
    };
    Frame {
        line: line_no,
        t: v["t"].as_f64().expect("t"),
        conn: v["conn"].as_str().expect("conn").to_owned(),
        c2s: v["dir"].as_str() == Some("c2s"),
        server,
        code: int("code") as i32,
        opaque: int("opaque") as i32,
        flag: int("flag") as i32,
        is_response: v["isResponse"].as_bool().expect("isResponse"),
        oneway: v["oneway"].as_bool().expect("oneway"),
        serialize_type: int("serializeType") as u8,
        header: v["header"].clone(),
        header_raw: unhex(v["headerRawHex"].as_str().expect("headerRawHex")),
        body: Bytes::from(unhex(v["bodyHex"].as_str().expect("bodyHex"))),
        frame_len: int("frameLen") as usize,
        step: v["step"].as_str().unwrap_or_default().to_owned(),
    }
}

/// Every transcript of `version`, in file-name order.
pub fn load_version(version: &'static str) -> Vec<Transcript> {
    let dir = golden_dir().join(version);
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read transcript");
            let frames = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| parse_frame(i + 1, l))
                .collect();
            Transcript {
                version,
                name: p.file_stem().expect("stem").to_string_lossy().into_owned(),
                frames,
            }
        })
        .collect()
}

/// Every transcript of every version.
pub fn load_all() -> Vec<Transcript> {
    VERSIONS.iter().flat_map(|v| load_version(v)).collect()
}

/// Message properties as sent in a send header (`name \u0001 value \u0002` pairs).
pub fn split_properties(s: &str) -> Vec<(String, String)> {
    s.split('\u{2}')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            p.split_once('\u{1}')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

pub mod replay;
