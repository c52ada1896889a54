//! A city-and-more inventory for the benchmarks: `devices` access devices
//! on 127.1.x.y (every 127/8 address answers inside a test namespace), each
//! with its leased line, sites of fifty; pinged or not.

use super::listen;

/// The config text: `[daemon]` listening on [`listen`], the store in
/// `data_dir`, then the devices `acc-00000`… (with `icmp = {}` when
/// `pinged`) and the lines `L-00000`…
pub fn config(data_dir: &str, devices: usize, lines: usize, pinged: bool) -> String {
    let mut c = format!(
        "[daemon]\nlisten = \"{}\"\ndata_dir = \"{data_dir}\"\ntimezone = \"Asia/Shanghai\"\n\n",
        listen()
    );
    for d in 0..devices {
        c.push_str(&format!(
            "[[device]]\nname = \"{}\"\nrole = \"access_egress\"\naddress = \"127.1.{}.{}\"\nsite = \"site-{}\"\n{}\n",
            device(d),
            d / 250,
            d % 250 + 1,
            d / 50,
            if pinged { "icmp = {}\n" } else { "" }
        ));
    }
    for l in 0..lines {
        c.push_str(&format!(
            "[[line]]\nid = \"{}\"\nunit = \"Unit {l}\"\ncarrier = \"Carrier {}\"\nbandwidth = \"100M\"\ndevice = \"{}\"\n\n",
            line(l),
            l % 3,
            device(l)
        ));
    }
    c
}

pub fn device(n: usize) -> String {
    format!("acc-{n:05}")
}

pub fn line(n: usize) -> String {
    format!("L-{n:05}")
}
