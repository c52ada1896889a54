//! Probers: how netkpi asks the network. Each returns an outcome with a reason.

pub mod icmp;
