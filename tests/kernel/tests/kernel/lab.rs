//! The lab's own helpers: namespaces, veth, unprivileged commands, and an ESP data plane built
//! from PF_KEY SAs.

use std::process::Command;

use pfkey_kernel_tests::xfrm::state_packets;
use pfkey_kernel_tests::{
    as_nobody, cmd::Run, fresh_netns, veth_link, Netns, PfKeySocket, VethLink,
};

use crate::common::{add_esp, request_ok};

#[test]
fn as_nobody_drops_to_uid_65534() {
    let _ns = fresh_netns();
    let out = Run::new(as_nobody(Command::new("id").arg("-u"))).expect_ok();
    assert_eq!(out.trim(), "65534");
}

#[test]
fn namespaces_are_private() {
    let ns = fresh_netns();
    let peer = Netns::detached();
    ns.ip(&[
        "link",
        "add",
        "dummy-probe",
        "type",
        "veth",
        "peer",
        "name",
        "dummy-peer",
    ])
    .expect_ok();
    let here = ns.ip(&["-o", "link"]).expect_ok();
    let there = peer.ip(&["-o", "link"]).expect_ok();
    assert!(here.contains("dummy-probe"), "{here}");
    assert!(!there.contains("dummy-probe"), "{there}");
}

/// Installs the two transport SAs between `a` and `b` through PF_KEY in namespace `ns`, and
/// `ip xfrm` policies requiring ESP for traffic from `local` to `remote` and back.
fn esp_endpoint(ns: &Netns, local: &str, remote: &str, out_spi: u32, in_spi: u32) {
    ns.enter(|| {
        let sock = PfKeySocket::open_or_panic();
        request_ok(&sock, &add_esp(1, out_spi, local, remote, 0));
        request_ok(&sock, &add_esp(2, in_spi, remote, local, 0));
    });
    ns.require_esp_transport(local, remote);
}

#[test]
fn ping_between_namespaces_goes_through_pf_key_esp_sas() {
    let _ns = fresh_netns();
    let link = veth_link("10.77.0.1/24", "10.77.0.2/24");
    assert!(
        VethLink::ping(&link.left, link.right_addr),
        "plain ping over veth failed"
    );
    esp_endpoint(&link.left, "10.77.0.1", "10.77.0.2", 0x1001, 0x1002);
    esp_endpoint(&link.right, "10.77.0.2", "10.77.0.1", 0x1002, 0x1001);
    let before = state_packets(0x1001);
    assert!(
        VethLink::ping(&link.left, link.right_addr),
        "ping over ESP failed"
    );
    let after = state_packets(0x1001);
    assert!(
        after > before,
        "outbound SA packet counter {before} -> {after}"
    );
    let received = link.right.enter(|| state_packets(0x1001));
    assert!(received > 0, "the peer's inbound SA counted no packets");
}

#[test]
fn ping_over_ipv6_veth() {
    let _ns = fresh_netns();
    let link = veth_link("fd00:77::1/64", "fd00:77::2/64");
    assert!(
        VethLink::ping(&link.left, link.right_addr),
        "IPv6 ping over veth failed"
    );
}

#[test]
fn pfkey_cli_runs_in_the_lab() {
    let _ns = fresh_netns();
    let run = pfkey_kernel_tests::pfkey(&["--help"]);
    assert!(run.ok(), "{run:?}");
}
