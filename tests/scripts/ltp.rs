//! The setkey scripts LTP's `output_ipsec_conf` writes (reference notes §12): one per shape,
//! ah/esp/ipcomp × transport/tunnel × IPv4/IPv6 × which end. Shared by the setkey unit tests,
//! the CLI's check tests and the kernel tests (each includes this file with `#[path]`).
#![allow(dead_code)]

/// The two hosts of an LTP shape: (source, destination).
pub fn ltp_hosts(v6: bool) -> (&'static str, &'static str) {
    if v6 {
        ("fd00:1:1:1::2", "fd00:1:1:1::1")
    } else {
        ("10.0.0.2", "10.0.0.1")
    }
}

/// The script for one shape.
pub fn ltp_script(proto: &str, mode: &str, v6: bool, target_src: bool) -> String {
    let (s, d) = ltp_hosts(v6);
    let algs = match proto {
        "ah" => "-A hmac-sha1 \"beef_fish_pork_salad\"",
        "esp" => "-E 3des-cbc \"_I_want_to_have_chicken_\" -A hmac-sha1 \"beef_fish_pork_salad\"",
        _ => "-C deflate",
    };
    let (dir1, dir2) = if target_src {
        ("out", "in")
    } else {
        ("in", "out")
    };
    let ends = |a: &str, b: &str| {
        if mode == "tunnel" {
            format!("{a}-{b}")
        } else {
            String::new()
        }
    };
    format!(
        "add {s} {d} {proto} 1000\n    -m {mode}\n    {algs} ;\n\n\
         add {d} {s} {proto} 1001\n    -m {mode}\n    {algs} ;\n\n\
         spdadd {s} {d} any\n    -P {dir1} ipsec {proto}/{mode}/{}/use ;\n\n\
         spdadd {d} {s} any\n    -P {dir2} ipsec {proto}/{mode}/{}/use ;\n",
        ends(s, d),
        ends(d, s)
    )
}
