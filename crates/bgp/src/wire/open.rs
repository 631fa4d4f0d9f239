//! OPEN (RFC 4271 section 4.2) with capabilities (RFC 5492): multiprotocol (RFC 4760),
//! route refresh (RFC 2918), enhanced route refresh (RFC 7313), 4-octet AS (RFC 6793)
//! and graceful restart (RFC 4724). Other capabilities are kept as raw bytes.

use std::net::Ipv4Addr;

use super::notification::{code, open as sub, Notification};
use super::reader::Reader;
use super::{Afi, EncodeError, Safi, AS_TRANS};

/// Optional parameter type carrying capabilities (RFC 5492).
const PARAM_CAPABILITIES: u8 = 2;

pub mod cap_code {
    pub const MULTIPROTOCOL: u8 = 1;
    pub const ROUTE_REFRESH: u8 = 2;
    pub const GRACEFUL_RESTART: u8 = 64;
    pub const FOUR_OCTET_AS: u8 = 65;
    pub const ENHANCED_ROUTE_REFRESH: u8 = 70;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// Always 4 once decoded: other versions are refused.
    pub version: u8,
    /// The 2-octet "My Autonomous System" field; [`AS_TRANS`] when the AS needs 4 octets.
    pub my_as: u16,
    pub hold_time: u16,
    pub bgp_id: Ipv4Addr,
    pub capabilities: Vec<Capability>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    Multiprotocol(Afi, Safi),
    RouteRefresh,
    EnhancedRouteRefresh,
    FourOctetAs(u32),
    GracefulRestart(GracefulRestart),
    /// Any other capability, or a known one whose value did not parse: RFC 5492 asks us
    /// to ignore what we do not understand rather than refuse the session.
    Unknown {
        code: u8,
        value: Vec<u8>,
    },
}

/// RFC 4724 section 3. Flag bits other than Restart State (e.g. RFC 8538's N bit) are
/// not kept: this speaker neither sends nor interprets them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulRestart {
    pub restart_state: bool,
    /// Seconds, 12 bits on the wire; larger values are cut to 12 bits when encoded.
    pub restart_time: u16,
    pub families: Vec<GrFamily>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrFamily {
    pub afi: Afi,
    pub safi: Safi,
    pub forwarding_state: bool,
}

impl Open {
    /// An OPEN for `asn`: the 2-octet field gets AS_TRANS when `asn` does not fit, and a
    /// FourOctetAs capability carrying `asn` is put first (RFC 6793 section 4.1).
    pub fn new(
        asn: u32,
        hold_time: u16,
        bgp_id: Ipv4Addr,
        mut capabilities: Vec<Capability>,
    ) -> Self {
        let my_as = u16::try_from(asn).unwrap_or(AS_TRANS);
        capabilities.retain(|c| !matches!(c, Capability::FourOctetAs(_)));
        capabilities.insert(0, Capability::FourOctetAs(asn));
        Open {
            version: 4,
            my_as,
            hold_time,
            bgp_id,
            capabilities,
        }
    }

    /// The peer's AS: the 4-octet capability's value when offered, else the 2-octet field.
    pub fn asn(&self) -> u32 {
        self.four_octet_as().unwrap_or(u32::from(self.my_as))
    }

    pub fn four_octet_as(&self) -> Option<u32> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::FourOctetAs(a) => Some(*a),
            _ => None,
        })
    }
}

fn open_error(subcode: u8, data: Vec<u8>) -> Notification {
    Notification::new(code::OPEN_MESSAGE, subcode, data)
}

/// Decodes an OPEN body (after the 19-octet header). Errors are the NOTIFICATION RFC 4271
/// section 6.2 asks for. Checks that need configuration (Bad Peer AS, our own BGP
/// identifier, required capabilities) belong to the speaker, not here.
pub(crate) fn decode_open(body: &[u8]) -> Result<Open, Notification> {
    let mut r = Reader::new(body);
    let short = || open_error(sub::UNSPECIFIC, Vec::new());
    let version = r.u8().ok_or_else(short)?;
    if version != 4 {
        // Data: the largest version we support, two octets.
        return Err(open_error(sub::UNSUPPORTED_VERSION_NUMBER, vec![0, 4]));
    }
    let my_as = r.u16().ok_or_else(short)?;
    let hold_time = r.u16().ok_or_else(short)?;
    let bgp_id = r.ipv4().ok_or_else(short)?;
    let params_len = r.u8().ok_or_else(short)?;
    if hold_time == 1 || hold_time == 2 {
        return Err(open_error(sub::UNACCEPTABLE_HOLD_TIME, Vec::new()));
    }
    // RFC 6286: any non-zero 4 octets is a valid identifier.
    if bgp_id.is_unspecified() {
        return Err(open_error(sub::BAD_BGP_IDENTIFIER, Vec::new()));
    }
    // The parameters must fill the rest of the message exactly; RFC 4271 names no subcode
    // for a mismatch, so it is the unspecific one.
    if usize::from(params_len) != r.remaining() {
        return Err(short());
    }
    let mut capabilities = Vec::new();
    while !r.is_empty() {
        let ptype = r.u8().ok_or_else(short)?;
        let plen = r.u8().ok_or_else(short)?;
        let pval = r.take(usize::from(plen)).ok_or_else(short)?;
        if ptype != PARAM_CAPABILITIES {
            return Err(open_error(sub::UNSUPPORTED_OPTIONAL_PARAMETER, Vec::new()));
        }
        let mut c = Reader::new(pval);
        while !c.is_empty() {
            let ccode = c.u8().ok_or_else(short)?;
            let clen = c.u8().ok_or_else(short)?;
            let cval = c.take(usize::from(clen)).ok_or_else(short)?;
            capabilities.push(decode_capability(ccode, cval));
        }
    }
    Ok(Open {
        version,
        my_as,
        hold_time,
        bgp_id,
        capabilities,
    })
}

fn decode_capability(code: u8, value: &[u8]) -> Capability {
    let parsed = match code {
        cap_code::MULTIPROTOCOL => match value {
            // AFI (2), reserved (1), SAFI (1).
            [a0, a1, _, safi] => Some(Capability::Multiprotocol(
                Afi(u16::from_be_bytes([*a0, *a1])),
                Safi(*safi),
            )),
            _ => None,
        },
        cap_code::ROUTE_REFRESH if value.is_empty() => Some(Capability::RouteRefresh),
        cap_code::ENHANCED_ROUTE_REFRESH if value.is_empty() => {
            Some(Capability::EnhancedRouteRefresh)
        }
        cap_code::FOUR_OCTET_AS => value
            .try_into()
            .ok()
            .map(|b: [u8; 4]| Capability::FourOctetAs(u32::from_be_bytes(b))),
        cap_code::GRACEFUL_RESTART => decode_graceful_restart(value),
        _ => None,
    };
    parsed.unwrap_or_else(|| Capability::Unknown {
        code,
        value: value.to_vec(),
    })
}

fn decode_graceful_restart(value: &[u8]) -> Option<Capability> {
    let mut r = Reader::new(value);
    // Restart Flags (4 bits) and Restart Time (12 bits).
    let head = r.u16()?;
    if !r.remaining().is_multiple_of(4) {
        return None;
    }
    let mut families = Vec::new();
    while !r.is_empty() {
        // AFI (2), SAFI (1), flags for the family (1): high bit = forwarding state kept.
        let afi = Afi(r.u16()?);
        let safi = Safi(r.u8()?);
        let flags = r.u8()?;
        families.push(GrFamily {
            afi,
            safi,
            forwarding_state: flags & 0x80 != 0,
        });
    }
    Some(Capability::GracefulRestart(GracefulRestart {
        restart_state: head & 0x8000 != 0,
        restart_time: head & 0x0fff,
        families,
    }))
}

fn encode_capability(out: &mut Vec<u8>, cap: &Capability) -> Result<(), EncodeError> {
    let mut value = Vec::new();
    let code = match cap {
        Capability::Multiprotocol(afi, safi) => {
            value.extend_from_slice(&afi.0.to_be_bytes());
            value.push(0);
            value.push(safi.0);
            cap_code::MULTIPROTOCOL
        }
        Capability::RouteRefresh => cap_code::ROUTE_REFRESH,
        Capability::EnhancedRouteRefresh => cap_code::ENHANCED_ROUTE_REFRESH,
        Capability::FourOctetAs(asn) => {
            value.extend_from_slice(&asn.to_be_bytes());
            cap_code::FOUR_OCTET_AS
        }
        Capability::GracefulRestart(gr) => {
            let head = (u16::from(gr.restart_state) << 15) | (gr.restart_time & 0x0fff);
            value.extend_from_slice(&head.to_be_bytes());
            for f in &gr.families {
                value.extend_from_slice(&f.afi.0.to_be_bytes());
                value.push(f.safi.0);
                value.push(if f.forwarding_state { 0x80 } else { 0 });
            }
            cap_code::GRACEFUL_RESTART
        }
        Capability::Unknown { code, value: v } => {
            value.extend_from_slice(v);
            *code
        }
    };
    let len = u8::try_from(value.len()).map_err(|_| EncodeError::CapabilityTooLong)?;
    out.push(code);
    out.push(len);
    out.extend_from_slice(&value);
    Ok(())
}

/// Encodes an OPEN body. Capabilities are packed into as few Capabilities parameters as
/// fit in 255 octets each; more than 255 octets of parameters in all cannot be sent
/// (RFC 9072's extended parameters are not supported).
pub(crate) fn encode_open(out: &mut Vec<u8>, open: &Open) -> Result<(), EncodeError> {
    out.push(open.version);
    out.extend_from_slice(&open.my_as.to_be_bytes());
    out.extend_from_slice(&open.hold_time.to_be_bytes());
    out.extend_from_slice(&open.bgp_id.octets());
    let mut params = Vec::new();
    let mut current = Vec::new();
    for cap in &open.capabilities {
        let mut one = Vec::new();
        encode_capability(&mut one, cap)?;
        // A parameter holds at most 255 octets, so one capability must fit in that.
        if one.len() > 255 {
            return Err(EncodeError::CapabilityTooLong);
        }
        if current.len() + one.len() > 255 {
            push_param(&mut params, &current);
            current.clear();
        }
        current.extend_from_slice(&one);
    }
    if !current.is_empty() {
        push_param(&mut params, &current);
    }
    let plen = u8::try_from(params.len()).map_err(|_| EncodeError::OptionalParametersTooLong)?;
    out.push(plen);
    out.extend_from_slice(&params);
    Ok(())
}

fn push_param(params: &mut Vec<u8>, caps: &[u8]) {
    params.push(PARAM_CAPABILITIES);
    // Callers keep `caps` within 255 octets.
    params.push(u8::try_from(caps.len()).unwrap_or(u8::MAX));
    params.extend_from_slice(caps);
}
