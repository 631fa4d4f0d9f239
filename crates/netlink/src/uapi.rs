//! Numbers from the kernel's uapi headers (`linux/netlink.h`, `rtnetlink.h`, `if_link.h`,
//! `if_addr.h`, `neighbour.h`, `veth.h`, `fib_rules.h`), typed the way they travel on the
//! wire. Kept here rather than taken from `libc` so every value the codec uses is visible in
//! one place.

// nlmsghdr.nlmsg_type values below RTM_BASE.
pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;

// nlmsghdr.nlmsg_flags.
pub const NLM_F_REQUEST: u16 = 0x01;
#[allow(dead_code)] // set by the kernel on dump replies; only tests build such messages
pub const NLM_F_MULTI: u16 = 0x02;
pub const NLM_F_ACK: u16 = 0x04;
pub const NLM_F_DUMP_INTR: u16 = 0x10;
pub const NLM_F_DUMP: u16 = 0x100 | 0x200; // NLM_F_ROOT | NLM_F_MATCH
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
// Flags on an NLMSG_ERROR reply.
pub const NLM_F_CAPPED: u16 = 0x100;
pub const NLM_F_ACK_TLVS: u16 = 0x200;

/// Extended ACK attribute carrying the kernel's human-readable error text.
pub const NLMSGERR_ATTR_MSG: u16 = 1;

// rtnetlink message types.
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const RTM_GETROUTE: u16 = 26;
pub const RTM_NEWNEIGH: u16 = 28;
pub const RTM_DELNEIGH: u16 = 29;
pub const RTM_GETNEIGH: u16 = 30;
pub const RTM_NEWRULE: u16 = 32;
pub const RTM_DELRULE: u16 = 33;
pub const RTM_GETRULE: u16 = 34;
pub const RTM_NEWNEXTHOP: u16 = 104;
pub const RTM_DELNEXTHOP: u16 = 105;
pub const RTM_GETNEXTHOP: u16 = 106;

// Link attributes (IFLA_*): encoded by netlink-packet-route; the tests build kernel replies
// and expected requests with them.
#[cfg(test)]
pub const IFLA_ADDRESS: u16 = 1;
#[cfg(test)]
pub const IFLA_IFNAME: u16 = 3;
#[cfg(test)]
pub const IFLA_MTU: u16 = 4;
#[cfg(test)]
pub const IFLA_LINKINFO: u16 = 18;
#[cfg(test)]
pub const IFLA_IFALIAS: u16 = 20;
#[cfg(test)]
pub const IFLA_INFO_KIND: u16 = 1;
/// IFNAMSIZ includes the terminating NUL.
pub const MAX_IFNAME_LEN: usize = 15;
/// IFALIASZ includes the terminating NUL.
pub const MAX_IFALIAS_LEN: usize = 255;

// Route attributes (RTA_*): encoded by netlink-packet-route; the tests build kernel
// replies with them.
#[cfg(test)]
pub const RTA_DST: u16 = 1;
#[cfg(test)]
pub const RTA_OIF: u16 = 4;
#[cfg(test)]
pub const RTA_TABLE: u16 = 15;
// Route values (RT_*, RTN_*, RTPROT_*).
pub const RT_TABLE_UNSPEC: u8 = 0;
/// What a rule dump puts in fib_rule_hdr.table for a table above 255 (the id is in FRA_TABLE).
#[cfg(test)]
pub const RT_TABLE_COMPAT: u8 = 252;
pub const RT_TABLE_DEFAULT: u32 = 253;
pub const RT_TABLE_MAIN: u32 = 254;
pub const RT_TABLE_LOCAL: u32 = 255;
pub const RT_SCOPE_UNIVERSE: u8 = 0;
pub const RT_SCOPE_LINK: u8 = 253;
pub const RT_SCOPE_NOWHERE: u8 = 255;
pub const RTN_UNICAST: u8 = 1;
pub const RTPROT_KERNEL: u8 = 2;
pub const RTPROT_STATIC: u8 = 4;

// Policy routing rule attributes (FRA_*, linux/fib_rules.h): encoded by
// netlink-packet-route; the tests build kernel replies with them.
#[cfg(test)]
pub const FRA_DST: u16 = 1;
#[cfg(test)]
pub const FRA_SRC: u16 = 2;
#[cfg(test)]
pub const FRA_PRIORITY: u16 = 6;
#[cfg(test)]
pub const FRA_SUPPRESS_PREFIXLEN: u16 = 14;
#[cfg(test)]
pub const FRA_TABLE: u16 = 15;
#[cfg(test)]
pub const FRA_PROTOCOL: u16 = 21;
// fib_rule_hdr.action (FR_ACT_*).
/// Look the destination up in the rule's table.
pub const FR_ACT_TO_TBL: u8 = 1;

// Attribute header flags (nla_type).
pub const NLA_F_NESTED: u16 = 1 << 15;
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | (1 << 14));

// Address families as carried in the one-byte family fields.
pub const AF_UNSPEC: u8 = 0;
pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;
