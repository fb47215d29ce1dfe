//! Message ids: the offset msgId the broker derives from where a record is stored, and
//! the client unique id (`UNIQ_KEY`, Java `MessageClientIDSetter`).
//!
//! Both are uppercase hex of a big-endian byte layout; decoders accept lowercase too, as
//! Java's `UtilAll.string2bytes` upper-cases first.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::atomic::{AtomicI64, AtomicU16, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::protocol::error::ProtocolError;

/// Hex length of an offset msgId with an IPv4 store host (4 + 4 + 8 bytes).
pub const OFFSET_MSG_ID_V4_LEN: usize = 32;
/// Hex length of an offset msgId with an IPv6 store host (16 + 4 + 8 bytes).
pub const OFFSET_MSG_ID_V6_LEN: usize = 56;
/// Hex length of a UNIQ_KEY made on an IPv4 host (4 + 2 + 4 + 4 + 2 bytes).
pub const UNIQ_ID_V4_LEN: usize = 32;
/// Hex length of a UNIQ_KEY made on an IPv6 host (16 + 2 + 4 + 4 + 2 bytes).
pub const UNIQ_ID_V6_LEN: usize = 56;

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends the uppercase hex of `bytes` to `out`.
pub fn write_hex_upper(bytes: &[u8], out: &mut String) {
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
        out.push(char::from(HEX_UPPER[usize::from(b & 0x0F)]));
    }
}

/// The uppercase hex of `bytes` (Java `UtilAll.bytes2string`).
pub fn to_hex_upper(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    write_hex_upper(bytes, &mut s);
    s
}

/// Decodes hex of either case; `None` for odd lengths or non-hex characters.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'A'..=b'F' => Some(c - b'A' + 10),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

/// `addr` with an IPv4-mapped IPv6 address turned into plain IPv4.
///
/// Java's `InetAddress` does this on its own, so a dual-stack socket's `::ffff:a.b.c.d`
/// peer is written as a 4-byte host; doing the same keeps records and ids identical.
pub fn canonical_addr(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, v6.port())),
            None => addr,
        },
        v4 => v4,
    }
}

/// Length of the address bytes Java writes for `addr` (4 or 16).
pub fn ip_len(addr: &SocketAddr) -> usize {
    match canonical_addr(*addr) {
        SocketAddr::V4(_) => 4,
        SocketAddr::V6(_) => 16,
    }
}

/// The address bytes Java writes for `ip` (4 for IPv4 and IPv4-mapped, else 16).
pub(crate) fn ip_octets(ip: IpAddr) -> ([u8; 16], usize) {
    let mut buf = [0u8; 16];
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            buf[..4].copy_from_slice(&v4.octets());
            (buf, 4)
        }
        IpAddr::V6(v6) => {
            buf.copy_from_slice(&v6.octets());
            (buf, 16)
        }
    }
}

/// Builds a socket address from 4 or 16 address bytes and a Java `int` port.
pub(crate) fn socket_addr_from(ip: &[u8], port: i32) -> Option<SocketAddr> {
    let port = u16::try_from(port).ok()?;
    match ip.len() {
        4 => {
            let o: [u8; 4] = ip.try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(o), port)))
        }
        16 => {
            let o: [u8; 16] = ip.try_into().ok()?;
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(o),
                port,
                0,
                0,
            )))
        }
        _ => None,
    }
}

/// A decoded offset msgId: where the message is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OffsetMsgId {
    /// The storing broker's address.
    pub store_host: SocketAddr,
    /// The record's commit-log offset.
    pub commit_log_offset: i64,
}

/// The offset msgId of a record stored by `store_host` at `commit_log_offset`.
pub fn offset_msg_id(store_host: SocketAddr, commit_log_offset: i64) -> String {
    let mut buf = [0u8; 28];
    let (ip, n) = ip_octets(store_host.ip());
    buf[..n].copy_from_slice(&ip[..n]);
    buf[n..n + 4].copy_from_slice(&i32::from(store_host.port()).to_be_bytes());
    buf[n + 4..n + 12].copy_from_slice(&commit_log_offset.to_be_bytes());
    to_hex_upper(&buf[..n + 12])
}

/// Decodes an offset msgId: 32 hex characters for IPv4, 56 for IPv6.
///
/// # Errors
/// [`ProtocolError`] (`InvalidMessageId`) when `id` has the
/// wrong length or is not hex.
pub fn decode_offset_msg_id(id: &str) -> Result<OffsetMsgId, ProtocolError> {
    let bad = || ProtocolError::InvalidMessageId(id.chars().take(64).collect());
    let ip_len = match id.len() {
        OFFSET_MSG_ID_V4_LEN => 4,
        OFFSET_MSG_ID_V6_LEN => 16,
        _ => return Err(bad()),
    };
    let bytes = from_hex(id).ok_or_else(bad)?;
    let port = i32::from_be_bytes(bytes[ip_len..ip_len + 4].try_into().map_err(|_| bad())?);
    let offset = i64::from_be_bytes(
        bytes[ip_len + 4..ip_len + 12]
            .try_into()
            .map_err(|_| bad())?,
    );
    let store_host = socket_addr_from(&bytes[..ip_len], port).ok_or_else(bad)?;
    Ok(OffsetMsgId {
        store_host,
        commit_log_offset: offset,
    })
}

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The start of the month containing `ms` and the start of the next month (ms since the
/// epoch), in the local time zone — Java's `Calendar.getInstance()` in
/// `MessageClientIDSetter.setStartTime`, so ids carry the same time field as a Java
/// producer's on the same host and Java tools decode them to the right time.
pub fn month_window_local(ms: i64) -> (i64, i64) {
    month_window_in(&chrono::Local, ms)
}

/// [`month_window_local`] in a given time zone.
pub fn month_window_in<Tz: chrono::TimeZone>(tz: &Tz, ms: i64) -> (i64, i64) {
    use chrono::Datelike;
    let Some(t) = tz.timestamp_millis_opt(ms).earliest() else {
        return (ms, ms);
    };
    let (y, m) = (t.year(), t.month());
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (month_start_in(tz, y, m, ms), month_start_in(tz, ny, nm, ms))
}

/// Local midnight of the 1st of `y-m`. Where a time-zone change skips that midnight, the
/// first instant after the gap, as Java's lenient `Calendar` resolves it.
fn month_start_in<Tz: chrono::TimeZone>(tz: &Tz, y: i32, m: u32, fallback: i64) -> i64 {
    use chrono::NaiveDate;
    let Some(midnight) = NaiveDate::from_ymd_opt(y, m, 1).and_then(|d| d.and_hms_opt(0, 0, 0))
    else {
        return fallback;
    };
    (0..=24 * 4)
        .find_map(|quarter| {
            let local = midnight + chrono::Duration::minutes(15 * quarter);
            tz.from_local_datetime(&local).earliest()
        })
        .map_or(fallback, |t| t.timestamp_millis())
}

/// Java's clamp in `createUniqIDBuffer`: a time slightly before the month start (the clock
/// stepped back, e.g. by NTP) is written as 0, not as a huge wrapped value.
fn millis_since(start: i64, now_ms: i64) -> i32 {
    let diff = now_ms.wrapping_sub(start) as i32;
    if diff < 0 && diff > -1_000_000 {
        0
    } else {
        diff
    }
}

/// A clock-derived stand-in for the host IP (Java `createFakeIP`: the low 4 bytes of the
/// current time in ms), for hosts whose address cannot be found.
pub fn fake_ip(now_ms: i64) -> Ipv4Addr {
    let b = now_ms.to_be_bytes();
    Ipv4Addr::new(b[4], b[5], b[6], b[7])
}

/// A per-process random `i32`, standing in for Java's class-loader hash so two processes
/// with the same IP and PID still produce distinct ids.
pub fn random_seed() -> i32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(now_ms());
    h.write_u32(std::process::id());
    h.finish() as i32
}

/// Generates UNIQ_KEY values: `ip(4|16) pid(2) seed(4) msSinceMonthStart(4) counter(2)`,
/// uppercase hex.
///
/// Thread-safe and lock-free: the fixed prefix is precomputed, the counter is atomic, and
/// the month window is only recomputed when the clock leaves it.
///
/// The month starts at local midnight, as in Java (see [`month_window_local`]).
#[derive(Debug)]
pub struct UniqIdGenerator {
    /// `None`: the local time zone, as Java; a fixed offset for reproducible ids.
    zone: Option<chrono::FixedOffset>,
    prefix: String,
    counter: AtomicU16,
    month_start: AtomicI64,
    next_month_start: AtomicI64,
}

impl UniqIdGenerator {
    /// A generator for a client on `ip`, with this process's PID and a random seed.
    pub fn new(ip: IpAddr) -> Self {
        // Java keeps the low 16 bits of the PID.
        Self::with_parts(ip, std::process::id() as u16, random_seed())
    }

    /// A generator with every fixed part given, for reproducible ids.
    pub fn with_parts(ip: IpAddr, pid: u16, seed: i32) -> Self {
        let (octets, n) = ip_octets(ip);
        let mut fixed = [0u8; 22];
        fixed[..n].copy_from_slice(&octets[..n]);
        fixed[n..n + 2].copy_from_slice(&pid.to_be_bytes());
        fixed[n + 2..n + 6].copy_from_slice(&seed.to_be_bytes());
        let prefix = to_hex_upper(&fixed[..n + 6]);
        let (start, next) = month_window_local(now_ms());
        UniqIdGenerator {
            zone: None,
            prefix,
            counter: AtomicU16::new(0),
            month_start: AtomicI64::new(start),
            next_month_start: AtomicI64::new(next),
        }
    }

    /// The same generator with months counted in a fixed UTC offset instead of the local
    /// time zone (reproducible ids in tests, or a producer that must match Java processes
    /// running with another `user.timezone`).
    pub fn with_zone(self, zone: chrono::FixedOffset) -> Self {
        let (start, next) = month_window_in(&zone, now_ms());
        self.month_start.store(start, Ordering::Release);
        self.next_month_start.store(next, Ordering::Release);
        UniqIdGenerator {
            zone: Some(zone),
            ..self
        }
    }

    /// The same generator as if made at `ms` (ms since the epoch): its month window starts
    /// there. Like Java's, the window only moves forward, so ids stamped with
    /// [`next_id_at`](Self::next_id_at) before the window are not meaningful; reproducible
    /// ids for a past time need this.
    pub fn made_at(self, ms: i64) -> Self {
        let (start, next) = self.month_window(ms);
        self.month_start.store(start, Ordering::Release);
        self.next_month_start.store(next, Ordering::Release);
        self
    }

    fn month_window(&self, ms: i64) -> (i64, i64) {
        match &self.zone {
            Some(zone) => month_window_in(zone, ms),
            None => month_window_local(ms),
        }
    }

    /// The next id, stamped with the system clock.
    pub fn next_id(&self) -> String {
        self.next_id_at(now_ms())
    }

    /// The next id, stamped with `now_ms` (ms since the epoch).
    pub fn next_id_at(&self, now_ms: i64) -> String {
        let mut start = self.month_start.load(Ordering::Acquire);
        // Like Java, the window only moves forward: a clock that steps back keeps the
        // current month (and a small negative difference is clamped to 0).
        if now_ms >= self.next_month_start.load(Ordering::Acquire) {
            // Racing threads compute the same window, so plain stores are enough.
            let (s, n) = self.month_window(now_ms);
            self.month_start.store(s, Ordering::Release);
            self.next_month_start.store(n, Ordering::Release);
            start = s;
        }
        let mut tail = [0u8; 6];
        tail[..4].copy_from_slice(&millis_since(start, now_ms).to_be_bytes());
        tail[4..].copy_from_slice(&self.counter.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        let mut id = String::with_capacity(self.prefix.len() + 12);
        id.push_str(&self.prefix);
        write_hex_upper(&tail, &mut id);
        id
    }
}

/// The parts of a UNIQ_KEY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UniqIdInfo {
    /// The producer's IP.
    pub ip: IpAddr,
    /// The low 16 bits of the producer's PID.
    pub pid: u16,
    /// The per-process value (Java: class-loader hash).
    pub seed: i32,
    /// Milliseconds since the start of the month the id was made in. Written as a
    /// wrapping `int32` but read back unsigned, as Java does, because a month can exceed
    /// 2^31 ms.
    pub millis_in_month: u32,
    /// The rolling counter.
    pub counter: u16,
}

impl UniqIdInfo {
    /// The approximate creation time in ms since the epoch, given the current time,
    /// as Java `getNearlyTimeFromID`: the current local month's start plus the offset, or
    /// the previous month's if that lands in the future.
    pub fn nearly_time_ms(&self, now_ms: i64) -> i64 {
        self.nearly_time_ms_in(&chrono::Local, now_ms)
    }

    /// [`nearly_time_ms`](Self::nearly_time_ms) in a given time zone.
    pub fn nearly_time_ms_in<Tz: chrono::TimeZone>(&self, tz: &Tz, now_ms: i64) -> i64 {
        let span = i64::from(self.millis_in_month);
        let (start, _) = month_window_in(tz, now_ms);
        let start = if start.saturating_add(span) >= now_ms {
            month_window_in(tz, start.saturating_sub(1)).0
        } else {
            start
        };
        start.saturating_add(span)
    }
}

/// Splits a UNIQ_KEY into its parts: 32 hex characters for IPv4, 56 for IPv6.
///
/// # Errors
/// [`ProtocolError`] (`InvalidMessageId`) when `id` has the
/// wrong length or is not hex.
pub fn parse_uniq_id(id: &str) -> Result<UniqIdInfo, ProtocolError> {
    let bad = || ProtocolError::InvalidMessageId(id.chars().take(64).collect());
    let n = match id.len() {
        UNIQ_ID_V4_LEN => 4,
        UNIQ_ID_V6_LEN => 16,
        _ => return Err(bad()),
    };
    let b = from_hex(id).ok_or_else(bad)?;
    let ip = match n {
        4 => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
        _ => {
            let o: [u8; 16] = b[..16].try_into().map_err(|_| bad())?;
            IpAddr::V6(Ipv6Addr::from(o))
        }
    };
    let be2 = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let be4 = |i: usize| i32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    Ok(UniqIdInfo {
        ip,
        pid: be2(n),
        seed: be4(n + 2),
        millis_in_month: be4(n + 6) as u32,
        counter: be2(n + 10),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_id_golden_v4() {
        let addr: SocketAddr = "10.0.0.1:10911".parse().unwrap();
        let id = offset_msg_id(addr, 0x1234);
        // 0A000001 | 00002A9F (10911) | 0000000000001234
        assert_eq!(id, "0A00000100002A9F0000000000001234");
        let d = decode_offset_msg_id(&id).unwrap();
        assert_eq!(
            d,
            OffsetMsgId {
                store_host: addr,
                commit_log_offset: 0x1234
            }
        );
        assert_eq!(decode_offset_msg_id(&id.to_lowercase()).unwrap(), d);
    }

    #[test]
    fn offset_id_v6_and_mapped() {
        let addr: SocketAddr = "[2001:db8::1]:8080".parse().unwrap();
        let id = offset_msg_id(addr, -1);
        assert_eq!(
            id,
            "20010DB8000000000000000000000001".to_string() + "00001F90" + "FFFFFFFFFFFFFFFF"
        );
        assert_eq!(decode_offset_msg_id(&id).unwrap().store_host, addr);
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:10911".parse().unwrap();
        assert_eq!(
            offset_msg_id(mapped, 0x1234),
            "0A00000100002A9F0000000000001234"
        );
    }

    #[test]
    fn offset_id_rejects() {
        for bad in [
            "",
            "0A",
            "0A00000100002A9F000000000000123",
            "ZZ00000100002A9F0000000000001234",
            "0A000001FFFFFFFF0000000000001234",
            "0A00000100002A9F00000000000012349",
        ] {
            assert!(
                matches!(
                    decode_offset_msg_id(bad),
                    Err(ProtocolError::InvalidMessageId(_))
                ),
                "{bad}"
            );
        }
        // Multi-byte UTF-8 of the right byte length must not panic.
        assert!(decode_offset_msg_id(&"é".repeat(16)).is_err());
    }

    const DAY_MS: i64 = 86_400_000;

    fn utc() -> chrono::FixedOffset {
        chrono::FixedOffset::east_opt(0).unwrap()
    }

    fn shanghai() -> chrono::FixedOffset {
        chrono::FixedOffset::east_opt(8 * 3600).unwrap()
    }

    #[test]
    fn month_window() {
        let w = |ms| month_window_in(&utc(), ms);
        // 2024-02-29T12:00:00Z = 1709208000000; Feb 2024 starts 1706745600000, Mar 1709251200000.
        assert_eq!(w(1_709_208_000_000), (1_706_745_600_000, 1_709_251_200_000));
        // 2023-12-31T23:59:59.999Z rolls into 2024-01-01 = 1704067200000.
        assert_eq!(w(1_704_067_199_999), (1_701_388_800_000, 1_704_067_200_000));
        assert_eq!(w(0), (0, 31 * DAY_MS));
        assert_eq!(w(-1), (-31 * DAY_MS, 0));
        let _ = w(i64::MAX);
        let _ = w(i64::MIN);
        let _ = month_window_local(i64::MAX);
        // In UTC+8 (where most RocketMQ producers run) the month starts 8 h earlier, and
        // 2024-02-29T20:00Z is already March there.
        const H8: i64 = 8 * 3_600_000;
        let w8 = |ms| month_window_in(&shanghai(), ms);
        assert_eq!(
            w8(1_709_208_000_000),
            (1_706_745_600_000 - H8, 1_709_251_200_000 - H8)
        );
        assert_eq!(w8(1_709_236_800_000).0, 1_709_251_200_000 - H8);
    }

    #[test]
    fn uniq_id_layout() {
        let g = UniqIdGenerator::with_parts("192.168.1.2".parse().unwrap(), 0x1234, -2)
            .with_zone(utc())
            .made_at(1_709_208_000_000);
        // 2024-02-29T12:00:00Z is 28 days + 12 h after the month start = 2_462_400_000 ms,
        // which wraps to a negative i32 exactly as Java's (int) cast does.
        let id = g.next_id_at(1_709_208_000_000);
        assert_eq!(id, "C0A801021234FFFFFFFE92C53E000000");
        assert_eq!(
            g.next_id_at(1_709_208_000_000),
            "C0A801021234FFFFFFFE92C53E000001"
        );
        let info = parse_uniq_id(&id).unwrap();
        assert_eq!(info.ip, "192.168.1.2".parse::<IpAddr>().unwrap());
        assert_eq!((info.pid, info.seed, info.counter), (0x1234, -2, 0));
        assert_eq!(info.millis_in_month, 2_462_400_000);
        assert_eq!(
            info.nearly_time_ms_in(&utc(), 1_709_208_000_000 + 5),
            1_709_208_000_000
        );
        // A small offset: 2024-03-01T00:00:01.5Z is 1500 ms into March.
        let id2 = g.next_id_at(1_709_251_201_500);
        assert_eq!(&id2[20..28], "000005DC");
        let info2 = parse_uniq_id(&id2).unwrap();
        assert_eq!(
            info2.nearly_time_ms_in(&utc(), 1_709_251_300_000),
            1_709_251_201_500
        );
        // Read in the next month, the time still lands in March.
        assert_eq!(
            info2.nearly_time_ms_in(&utc(), 1_711_929_600_000 + 1000),
            1_709_251_201_500
        );
        // The clock steps back 500 ms across the month start: Java keeps March and
        // writes 0 instead of a wrapped negative difference.
        let back = g.next_id_at(1_709_251_200_000 - 500);
        assert_eq!(&back[20..28], "00000000");
    }

    #[test]
    fn ids_made_and_read_in_the_same_zone_give_the_time_back() {
        // What a Java tool in UTC+8 decodes from a UTC+8 producer's id, and ours the same.
        let g = UniqIdGenerator::with_parts("10.0.0.1".parse().unwrap(), 7, 7)
            .with_zone(shanghai())
            .made_at(1_704_067_199_999);
        for t in [
            1_704_067_199_999,
            1_709_208_000_000,
            1_709_236_800_000,
            1_717_200_000_123,
        ] {
            let info = parse_uniq_id(&g.next_id_at(t)).unwrap();
            assert_eq!(info.nearly_time_ms_in(&shanghai(), t + 60_000), t, "{t}");
        }
    }

    #[test]
    fn uniq_id_v6_and_rejects() {
        let g = UniqIdGenerator::with_parts("2001:db8::7".parse().unwrap(), 1, 2);
        let id = g.next_id();
        assert_eq!(id.len(), UNIQ_ID_V6_LEN);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        );
        let info = parse_uniq_id(&id).unwrap();
        assert_eq!(info.ip, "2001:db8::7".parse::<IpAddr>().unwrap());
        assert_eq!((info.pid, info.seed), (1, 2));
        assert!(parse_uniq_id("1234").is_err());
        assert!(parse_uniq_id(&"G".repeat(32)).is_err());
    }

    #[test]
    fn uniq_ids_unique_across_threads() {
        let g = std::sync::Arc::new(UniqIdGenerator::new(IpAddr::V4(fake_ip(now_ms()))));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let g = g.clone();
                std::thread::spawn(move || (0..1000).map(|_| g.next_id()).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<String> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
