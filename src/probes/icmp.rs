//! STUB: ICMP echo prober (helper D).
