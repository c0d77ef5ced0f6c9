//! Local time for text that shows dates the way C programs do (setkey's `ctime(3)`).

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// The system time zone (`TZ`, else `/etc/localtime`, else UTC), read once.
fn zone() -> &'static TimeZone {
    static ZONE: OnceLock<TimeZone> = OnceLock::new();
    ZONE.get_or_init(TimeZone::system)
}

/// The local time zone's offset from UTC in seconds at `t` (seconds since the epoch);
/// 0 for times the calendar cannot represent.
pub fn utc_offset(t: u64) -> i64 {
    let Ok(secs) = i64::try_from(t) else { return 0 };
    match Timestamp::from_second(secs) {
        Ok(ts) => i64::from(zone().to_offset(ts).seconds()),
        Err(_) => 0,
    }
}

/// Now, in seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_small_and_never_fail() {
        for t in [0, 1_700_000_000, u64::MAX, i64::MAX as u64] {
            assert!(utc_offset(t).abs() <= 26 * 3600, "{t}");
        }
        assert!(now() > 1_600_000_000);
    }
}
