//! The EXAMPLES of setkey(8)'s manual page (ipsec-tools 0.8.2) that are valid on Linux, as
//! the manual writes them, except that in [`ALL`] the `add -6 myhost.example.com
//! yourhost.example.com` example uses the addresses its `get` example names for the same SA
//! (these machines and the lab have no DNS). Shared by the setkey unit tests (the messages
//! each becomes), the CLI's check tests (the whole list checks cleanly and silently) and the
//! kernel tests (each loads as written, read back through `ip xfrm`); each includes this
//! file with `#[path]`.
#![allow(dead_code)]

/// ESP in IPv6 with DES.
pub const ESP_V6: &str = "add 3ffe:501:4819::1 3ffe:501:481d::1 esp 123457\n\
                          \t-E des-cbc 0x3ffe05014819ffff ;\n";

/// The AH example as the manual writes it: `-6` picks the names' IPv6 addresses.
pub const AH_V6_BY_NAME: &str = "add -6 myhost.example.com yourhost.example.com ah 123456\n\
                                 \t-A hmac-sha1 \"AH SA configuration!\" ;\n";

/// [`AH_V6_BY_NAME`] with the addresses of [`GET`] (where no name resolves).
pub const AH_V6: &str = "add -6 3ffe:501:4819::1 3ffe:501:481d::1 ah 123456\n\
                         \t-A hmac-sha1 \"AH SA configuration!\" ;\n";

/// ESP in IPv4 with DES and HMAC-MD5.
pub const ESP_V4: &str = "add 10.0.11.41 10.0.11.33 esp 0x10001\n\
                          \t-E des-cbc 0x3ffe05014819ffff\n\
                          \t-A hmac-md5 \"authentication!!\" ;\n";

/// `get` of the AH SA.
pub const GET: &str = "get 3ffe:501:4819::1 3ffe:501:481d::1 ah 123456 ;\n";

/// `flush` and `dump esp`.
pub const FLUSH_DUMP: &str = "flush ;\ndump esp ;\n";

/// A tunnel policy for FTP's control port.
pub const SPD_TUNNEL: &str = "spdadd 10.0.11.41/32[21] 10.0.11.33/32[any] any\n\
                              \t-P out ipsec esp/tunnel/192.168.0.1-192.168.1.2/require ;\n";

/// An SA with a security context.
pub const ESP_CTX: &str = "add 10.0.11.41 10.0.11.33 esp 0x10001\n\
                           \t-ctx 1 1 \"system_u:system_r:unconfined_t:SystemLow-SystemHigh\"\n\
                           \t-E des-cbc 0x3ffe05014819ffff;\n";

/// A policy with a security context.
pub const SPD_CTX: &str = "spdadd 10.0.11.41 10.0.11.33 any\n\
                           \t-ctx 1 1 \"system_u:system_r:unconfined_t:SystemLow-SystemHigh\"\n\
                           \t-P out ipsec esp/transport//require ;\n";

/// Neighbour solicitations bypass IPsec.
pub const ICMP6_NONE: &str = "spdadd ::/0 ::/0 icmp6 135,0 -P in none ;\n";

/// A tunnel with NAT-T ports on its endpoints.
pub const SPD_NAT_PORTS: &str = "spdadd 10.0.11.0/24[any] 10.0.11.33/32[any] any -P out ipsec\n\
                                 \tesp/tunnel/192.168.0.1[4500]-192.168.1.2[30000]/require ;\n";

/// ESP then AH, both transport.
pub const SPD_TWO_RULES: &str = "spdadd 10.0.11.41 10.0.11.33 any -P out ipsec\n\
                                 \tesp/transport//require ah/transport//require ;\n";

/// Every example above, in the manual's order.
pub const ALL: [&str; 11] = [
    ESP_V6,
    AH_V6,
    ESP_V4,
    GET,
    FLUSH_DUMP,
    SPD_TUNNEL,
    ESP_CTX,
    SPD_CTX,
    ICMP6_NONE,
    SPD_NAT_PORTS,
    SPD_TWO_RULES,
];
