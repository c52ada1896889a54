//! BER (X.690) as SNMP uses it: the tags, a reader that trusts nothing
//! ([`read`](mod@read), for the trap receiver), and the one encoder
//! ([`write`](mod@write)) for the few messages netkpi builds itself (the v3
//! discovery request, the response to an inform) and for the hand-made
//! datagrams of tests.
//!
//! Everything else on the wire is read and written by `snmp2`.

pub mod read;
pub mod write;

pub use read::{BerError, Reader};

// X.690 universal tags.
pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const NULL: u8 = 0x05;
pub const OBJECT_ID: u8 = 0x06;
pub const SEQUENCE: u8 = 0x30;
// RFC 2578 §7.1 application types (RFC 3416 §3 for Counter64).
pub const IP_ADDRESS: u8 = 0x40;
pub const COUNTER32: u8 = 0x41;
pub const GAUGE32: u8 = 0x42;
pub const TIMETICKS: u8 = 0x43;
pub const OPAQUE: u8 = 0x44;
pub const COUNTER64: u8 = 0x46;
// RFC 3416 §3 exceptions in responses.
pub const NO_SUCH_OBJECT: u8 = 0x80;
pub const NO_SUCH_INSTANCE: u8 = 0x81;
pub const END_OF_MIB_VIEW: u8 = 0x82;
// PDU tags, context-specific constructed (RFC 1157 §4.1, RFC 3416 §3).
pub const PDU_GET: u8 = 0xa0;
pub const PDU_GET_NEXT: u8 = 0xa1;
pub const PDU_RESPONSE: u8 = 0xa2;
pub const PDU_SET: u8 = 0xa3;
pub const PDU_TRAP_V1: u8 = 0xa4;
pub const PDU_GET_BULK: u8 = 0xa5;
pub const PDU_INFORM: u8 = 0xa6;
pub const PDU_TRAP_V2: u8 = 0xa7;
pub const PDU_REPORT: u8 = 0xa8;
