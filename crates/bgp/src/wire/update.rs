//! UPDATE (RFC 4271 section 4.3) and its error handling per RFC 7606.

use ipnet::Ipv4Net;

use super::attr::{attr_type, flag, MpReach, MpUnreach, Nlri, PathAttribute};
use super::attr_decode::{decode_attribute, Verdict};
use super::notification::{code, update as sub, Notification};
use super::reader::Reader;
use super::{prefix, Afi, Codec, EncodeError, Safi};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// IPv4 unicast prefixes withdrawn (the Withdrawn Routes field).
    pub withdrawn: Vec<Ipv4Net>,
    pub attributes: Vec<PathAttribute>,
    /// IPv4 unicast prefixes announced (the NLRI field).
    pub nlri: Vec<Ipv4Net>,
}

/// How a received UPDATE is to be handled (RFC 7606 section 2). When several attributes
/// are malformed the strongest action wins (section 3); the list says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateClass {
    Ok,
    /// The listed attributes were dropped from [`Update::attributes`]; use the rest.
    AttributeDiscard(Vec<Malformed>),
    /// Withdraw every prefix the UPDATE announces ([`Update::announced`]) as if it had
    /// been listed as withdrawn, and apply its withdrawals.
    TreatAsWithdraw(Vec<Malformed>),
    /// Send this NOTIFICATION and close the session.
    SessionReset(Notification),
}

/// One problem found in an UPDATE: the attribute type (the missing one, for a missing
/// mandatory attribute) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub type_code: u8,
    pub reason: &'static str,
}

impl Update {
    /// The End-of-RIB marker of RFC 4724 section 2: an empty UPDATE for IPv4 unicast,
    /// an UPDATE holding only an empty MP_UNREACH_NLRI for any other family.
    pub fn end_of_rib(afi: Afi, safi: Safi) -> Update {
        let withdrawn = match (afi, safi) {
            (Afi::IPV4, Safi::UNICAST) => return Update::default(),
            (Afi::IPV6, Safi::UNICAST) => Nlri::V6(Vec::new()),
            _ => Nlri::Other {
                afi,
                safi,
                data: Vec::new(),
            },
        };
        Update {
            attributes: vec![PathAttribute::MpUnreach(MpUnreach { withdrawn })],
            ..Update::default()
        }
    }

    /// The family this UPDATE marks End-of-RIB for, if it is such a marker.
    pub fn is_end_of_rib(&self) -> Option<(Afi, Safi)> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        match self.attributes.as_slice() {
            [] => Some((Afi::IPV4, Safi::UNICAST)),
            [PathAttribute::MpUnreach(u)] if u.withdrawn.is_empty() => Some(u.withdrawn.family()),
            _ => None,
        }
    }

    pub fn attribute(&self, type_code: u8) -> Option<&PathAttribute> {
        self.attributes.iter().find(|a| a.type_code() == type_code)
    }

    pub fn mp_reach(&self) -> Option<&MpReach> {
        self.attributes.iter().find_map(|a| match a {
            PathAttribute::MpReach(r) => Some(r),
            _ => None,
        })
    }

    pub fn mp_unreach(&self) -> Option<&MpUnreach> {
        self.attributes.iter().find_map(|a| match a {
            PathAttribute::MpUnreach(u) => Some(u),
            _ => None,
        })
    }

    /// Every prefix this UPDATE announces: the IPv4 NLRI field and MP_REACH_NLRI's.
    /// Under treat-as-withdraw these are the routes to withdraw.
    pub fn announced(&self) -> Vec<Nlri> {
        let mut out = Vec::new();
        if !self.nlri.is_empty() {
            out.push(Nlri::V4(self.nlri.clone()));
        }
        if let Some(r) = self.mp_reach() {
            out.push(r.nlri.clone());
        }
        out
    }
}

/// Collects problems and keeps the strongest action.
struct Classifier {
    worst: u8, // 0 ok, 1 discard, 2 withdraw
    reset: Option<Notification>,
    reasons: Vec<Malformed>,
}

impl Classifier {
    fn note(&mut self, type_code: u8, reason: &'static str, verdict: Verdict) {
        self.reasons.push(Malformed { type_code, reason });
        match verdict {
            Verdict::Discard => self.worst = self.worst.max(1),
            Verdict::Withdraw => self.worst = self.worst.max(2),
            Verdict::Reset(n) => {
                self.reset.get_or_insert(n);
            }
        }
    }

    fn finish(self) -> UpdateClass {
        match (self.reset, self.worst) {
            (Some(n), _) => UpdateClass::SessionReset(n),
            (None, 2) => UpdateClass::TreatAsWithdraw(self.reasons),
            (None, 1) => UpdateClass::AttributeDiscard(self.reasons),
            _ => UpdateClass::Ok,
        }
    }
}

fn reset(subcode: u8) -> UpdateClass {
    UpdateClass::SessionReset(Notification::new(code::UPDATE_MESSAGE, subcode, Vec::new()))
}

/// Decodes an UPDATE body (after the 19-octet header). Never fails: problems are in the
/// returned class; with [`UpdateClass::SessionReset`] the update is whatever was read.
pub fn decode_update(body: &[u8], ctx: &Codec) -> (Update, UpdateClass) {
    let mut update = Update::default();
    let mut r = Reader::new(body);
    // RFC 4271 section 6.3 / RFC 7606 section 4: lengths that do not fit the message leave
    // the NLRI unlocatable, which only a session reset can answer.
    let Some(withdrawn) = r.u16().and_then(|n| r.take(usize::from(n))) else {
        return (update, reset(sub::MALFORMED_ATTRIBUTE_LIST));
    };
    let Some(attrs) = r.u16().and_then(|n| r.take(usize::from(n))) else {
        return (update, reset(sub::MALFORMED_ATTRIBUTE_LIST));
    };
    let (Some(w), Some(n)) = (prefix::decode_v4(withdrawn), prefix::decode_v4(r.rest())) else {
        return (update, reset(sub::INVALID_NETWORK_FIELD));
    };
    update.withdrawn = w;
    update.nlri = n;

    let mut class = Classifier {
        worst: 0,
        reset: None,
        reasons: Vec::new(),
    };
    let mut seen = [false; 256];
    let mut a = Reader::new(attrs);
    while !a.is_empty() && class.reset.is_none() {
        let start = attrs.len() - a.remaining();
        let head = a.u8().zip(a.u8());
        let len = match head {
            Some((f, _)) if f & flag::EXTENDED_LENGTH != 0 => a.u16(),
            Some(_) => a.u8().map(u16::from),
            None => None,
        };
        let (Some((flags, type_code)), Some(len)) = (head, len) else {
            // RFC 7606 section 4: too few octets left for an attribute header.
            let t = head.map_or(0, |h| h.1);
            class.note(t, "attribute header truncated", Verdict::Withdraw);
            break;
        };
        let Some(value) = a.take(usize::from(len)) else {
            // RFC 7606 section 4: the last attribute overruns the attributes field. Every
            // attribute before it was read, so treat-as-withdraw knows all the NLRI,
            // unless the overrunning one is itself MP_REACH/MP_UNREACH.
            let verdict = if type_code == attr_type::MP_REACH_NLRI
                || type_code == attr_type::MP_UNREACH_NLRI
            {
                Verdict::Reset(Notification::new(
                    code::UPDATE_MESSAGE,
                    sub::ATTRIBUTE_LENGTH_ERROR,
                    Vec::new(),
                ))
            } else {
                Verdict::Withdraw
            };
            class.note(
                type_code,
                "attribute overruns the attributes field",
                verdict,
            );
            break;
        };
        let raw = attrs.get(start..attrs.len() - a.remaining()).unwrap_or(&[]);
        // RFC 7606 section 3: a repeated MP attribute resets; any other repeat is dropped.
        if seen[usize::from(type_code)] {
            if type_code == attr_type::MP_REACH_NLRI || type_code == attr_type::MP_UNREACH_NLRI {
                let n = Notification::new(
                    code::UPDATE_MESSAGE,
                    sub::MALFORMED_ATTRIBUTE_LIST,
                    Vec::new(),
                );
                class.note(type_code, "repeated MP attribute", Verdict::Reset(n));
            } else {
                class.note(type_code, "repeated attribute dropped", Verdict::Discard);
            }
            continue;
        }
        seen[usize::from(type_code)] = true;
        match decode_attribute(flags, type_code, value, raw, ctx) {
            Ok(attr) => update.attributes.push(attr),
            Err(f) => {
                class.note(type_code, f.why, f.verdict);
                update.attributes.extend(f.keep);
            }
        }
    }
    check_mandatory(&update, &seen, &mut class);
    (update, class.finish())
}

/// RFC 7606 section 3: a well-known mandatory attribute missing from an UPDATE that
/// announces something is treat-as-withdraw. NEXT_HOP is only needed for the IPv4 NLRI
/// field (MP_REACH_NLRI carries its own). An attribute that was present but malformed
/// has been reported already.
fn check_mandatory(update: &Update, seen: &[bool; 256], class: &mut Classifier) {
    let reaches = update.mp_reach().is_some_and(|r| !r.nlri.is_empty());
    if update.nlri.is_empty() && !reaches {
        return;
    }
    let mut need = vec![attr_type::ORIGIN, attr_type::AS_PATH];
    if !update.nlri.is_empty() {
        need.push(attr_type::NEXT_HOP);
    }
    for t in need {
        if !seen[usize::from(t)] {
            class.note(
                t,
                "missing well-known mandatory attribute",
                Verdict::Withdraw,
            );
        }
    }
}

pub(crate) fn encode_update(out: &mut Vec<u8>, u: &Update, ctx: &Codec) -> Result<(), EncodeError> {
    let mut w = Vec::new();
    prefix::encode_v4(&mut w, &u.withdrawn);
    let mut attrs = Vec::new();
    for a in &u.attributes {
        super::attr::encode_attribute(&mut attrs, a, ctx)?;
    }
    let too_long = |_| EncodeError::MessageTooLong;
    out.extend_from_slice(&u16::try_from(w.len()).map_err(too_long)?.to_be_bytes());
    out.extend_from_slice(&w);
    out.extend_from_slice(&u16::try_from(attrs.len()).map_err(too_long)?.to_be_bytes());
    out.extend_from_slice(&attrs);
    prefix::encode_v4(out, &u.nlri);
    Ok(())
}
