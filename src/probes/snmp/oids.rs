//! The OIDs the code itself names (the profiles name theirs as data, in
//! their TOML files): each defined once, here, as its arcs.

// SNMPv2-MIB (RFC 3418) and SNMP-COMMUNITY-MIB (RFC 3584) objects.
/// sysUpTime.0: read at every poll, whatever the profiles, so a reboot (the
/// value going back) is seen and the lookups are read again; the first
/// varbind of every v2c/v3 notification.
pub const SYS_UPTIME: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];
/// snmpTrapOID.0
pub const SNMP_TRAP_OID_0: &[u32] = &[1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0];
/// snmpTrapEnterprise.0
pub const SNMP_TRAP_ENTERPRISE_0: &[u32] = &[1, 3, 6, 1, 6, 3, 1, 1, 4, 3, 0];
/// snmpTrapAddress.0
pub const SNMP_TRAP_ADDRESS_0: &[u32] = &[1, 3, 6, 1, 6, 3, 18, 1, 3, 0];
/// snmpTraps: the generic notifications (RFC 3418 §2), .1 coldStart to .6
/// egpNeighborLoss.
pub const SNMP_TRAPS: &[u32] = &[1, 3, 6, 1, 6, 3, 1, 1, 5];
/// IF-MIB ifIndex column (RFC 2863).
pub const IF_INDEX: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 1];
/// UPS-MIB upsTraps (RFC 1628).
pub const UPS_TRAPS: &[u32] = &[1, 3, 6, 1, 2, 1, 33, 2];
/// UPS-MIB upsAlarmDescr column: an AutonomousType naming the alarm (e.g.
/// upsAlarmOnBattery 1.3.6.1.2.1.33.1.6.3.2).
pub const UPS_ALARM_DESCR: &[u32] = &[1, 3, 6, 1, 2, 1, 33, 1, 6, 2, 1, 2];
