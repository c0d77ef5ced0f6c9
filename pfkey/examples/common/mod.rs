//! What the TCP examples share: their command-line options and the per-socket policy
//! they put on their socket.
//!
//! Not an example of its own (cargo only builds `examples/*.rs` and
//! `examples/*/main.rs`); `tcp_server.rs` and `tcp_client.rs` include it with `mod common;`.

use std::process::ExitCode;

use pfkey::alg::{
    SADB_AALG_MD5HMAC, SADB_X_AALG_SHA2_256HMAC, SADB_X_AALG_SHA2_384HMAC,
    SADB_X_AALG_SHA2_512HMAC, SADB_X_EALG_AESCBC, SADB_X_EALG_AESCTR,
};
use pfkey::sockpolicy::{AlgorithmMask, ApplyError, Encoding, SocketPolicy, Template};
use pfkey::wire::SaType;

/// The per-socket policy options both programs take.
pub struct PolicyOptions {
    /// `--policy`: esp (default), ah, esp+ah, bypass, discard, none (no policy).
    pub policy: String,
    /// `--encoding`: auto (default), pfkey, xfrm.
    pub encoding: Encoding,
    /// `--algorithms`: any (default), md5, modern.
    pub algorithms: String,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        PolicyOptions {
            policy: "esp".into(),
            encoding: Encoding::detect(),
            algorithms: "any".into(),
        }
    }
}

/// The option lines of `--help`.
pub const POLICY_HELP: &str = "\
  --policy esp|ah|esp+ah|bypass|discard|none
                     per-socket policy for both directions (default esp: ESP in
                     transport mode, level require); none sets no policy
  --encoding auto|pfkey|xfrm
                     IP_IPSEC_POLICY (PF_KEY, needs af_key) or IP_XFRM_POLICY
                     (default auto: pfkey while af_key is loaded, else xfrm)
  --algorithms any|md5|modern
                     restrict the SAs' algorithms (xfrm encoding only):
                     md5    = AES-CBC with HMAC-MD5 (the classic Solaris example)
                     modern = AES-CBC or AES-CTR with HMAC-SHA-256/384/512";

impl PolicyOptions {
    /// Takes `arg` (and its value from `rest`) if it is a policy option.
    pub fn take(
        &mut self,
        arg: &str,
        rest: &mut impl Iterator<Item = String>,
    ) -> Result<bool, String> {
        let mut value = |name: &str| rest.next().ok_or(format!("{name} needs a value"));
        match arg {
            "--policy" => self.policy = value(arg)?,
            "--algorithms" => self.algorithms = value(arg)?,
            "--encoding" => {
                self.encoding = match value(arg)?.as_str() {
                    "auto" => Encoding::detect(),
                    "pfkey" => Encoding::PfKey,
                    "xfrm" => Encoding::Xfrm,
                    other => {
                        return Err(format!(
                            "unknown encoding '{other}' (expected auto, pfkey or xfrm)"
                        ))
                    }
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The algorithm restriction asked for.
    pub fn mask(&self) -> Result<AlgorithmMask, String> {
        let m = match self.algorithms.as_str() {
            "any" => Ok(AlgorithmMask::ANY),
            "md5" => AlgorithmMask::allow(&[SADB_AALG_MD5HMAC], &[SADB_X_EALG_AESCBC]),
            "modern" => AlgorithmMask::allow(
                &[
                    SADB_X_AALG_SHA2_256HMAC,
                    SADB_X_AALG_SHA2_384HMAC,
                    SADB_X_AALG_SHA2_512HMAC,
                ],
                &[SADB_X_EALG_AESCBC, SADB_X_EALG_AESCTR],
            ),
            other => {
                return Err(format!(
                    "unknown algorithm choice '{other}' (expected any, md5 or modern)"
                ))
            }
        };
        m.map_err(|e| e.to_string())
    }

    /// The policy both directions get, or `None` for `--policy none`.
    pub fn policy(&self) -> Result<Option<SocketPolicy>, String> {
        let mask = self.mask()?;
        let t = |p: SaType| Template::transport(p).with_algorithms(mask);
        let p = match self.policy.as_str() {
            "none" => return Ok(None),
            "esp" => SocketPolicy::Ipsec(vec![t(SaType::Esp)]),
            "ah" => SocketPolicy::Ipsec(vec![t(SaType::Ah)]),
            "esp+ah" => SocketPolicy::Ipsec(vec![t(SaType::Esp), t(SaType::Ah)]),
            "bypass" => SocketPolicy::Bypass,
            "discard" => SocketPolicy::Discard,
            other => {
                return Err(format!(
                    "unknown policy '{other}' (expected esp, ah, esp+ah, bypass, discard or none)"
                ))
            }
        };
        if !mask.is_any() && !matches!(p, SocketPolicy::Ipsec(_)) {
            return Err(format!(
                "--algorithms {} applies to esp and ah policies only",
                self.algorithms
            ));
        }
        Ok(Some(p))
    }

    /// A warning about a combination that Linux accepts but that cannot work.
    pub fn warning(&self) -> Option<&'static str> {
        let ipsec = matches!(self.policy.as_str(), "esp" | "ah" | "esp+ah");
        (ipsec && self.encoding == Encoding::PfKey).then_some(
            "warning: Linux cannot send through IPsec policies set with IP_IPSEC_POLICY \
             (the PF_KEY encoding) once their SAs exist (EINVAL); use --encoding xfrm",
        )
    }

    /// A one-line description for the program's first output line.
    pub fn describe(&self) -> String {
        if self.policy == "none" {
            return "no per-socket policy".into();
        }
        format!(
            "policy {} (algorithms {}, {} encoding)",
            self.policy, self.algorithms, self.encoding
        )
    }
}

/// Exit status for a failure to set the policy: 77 (`EX_NOPERM`) without
/// `CAP_NET_ADMIN`, else 1.
pub fn apply_failure(program: &str, e: &ApplyError) -> ExitCode {
    eprintln!("{program}: cannot set the socket's IPsec policy: {e}");
    if e.is_permission_denied() {
        ExitCode::from(77)
    } else {
        ExitCode::FAILURE
    }
}
