//! NOTIFICATION (RFC 4271 section 4.5) and the error codes of RFC 4271 section 6,
//! the Cease subcodes of RFC 4486, the FSM subcodes of RFC 6608 and the ROUTE-REFRESH
//! subcode of RFC 7313.
//!
//! Codes are kept as raw octets in [`Notification`] so that any code a peer sends
//! survives decoding; the modules below name the ones this speaker sends or reads.

/// A NOTIFICATION message: error code, subcode and data. A zero subcode means
/// "unspecific" (RFC 4271 section 4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

impl Notification {
    pub fn new(code: u8, subcode: u8, data: impl Into<Vec<u8>>) -> Self {
        Notification {
            code,
            subcode,
            data: data.into(),
        }
    }

    /// The error in words, for logs and `wharf bgp neighbors`.
    pub fn describe(&self) -> &'static str {
        match (self.code, self.subcode) {
            (code::MESSAGE_HEADER, _) => "message header error",
            (code::OPEN_MESSAGE, open::BAD_PEER_AS) => "bad peer AS",
            (code::OPEN_MESSAGE, open::BAD_BGP_IDENTIFIER) => "bad BGP identifier",
            (code::OPEN_MESSAGE, open::UNACCEPTABLE_HOLD_TIME) => "unacceptable hold time",
            (code::OPEN_MESSAGE, open::UNSUPPORTED_CAPABILITY) => "unsupported capability",
            (code::OPEN_MESSAGE, _) => "OPEN message error",
            (code::UPDATE_MESSAGE, _) => "UPDATE message error",
            (code::HOLD_TIMER_EXPIRED, _) => "hold timer expired",
            (code::FSM, _) => "finite state machine error",
            (code::CEASE, cease::MAX_PREFIXES_REACHED) => {
                "cease: maximum number of prefixes reached"
            }
            (code::CEASE, cease::ADMINISTRATIVE_SHUTDOWN) => "cease: administrative shutdown",
            (code::CEASE, cease::PEER_DECONFIGURED) => "cease: peer de-configured",
            (code::CEASE, cease::ADMINISTRATIVE_RESET) => "cease: administrative reset",
            (code::CEASE, cease::CONNECTION_REJECTED) => "cease: connection rejected",
            (code::CEASE, cease::CONNECTION_COLLISION_RESOLUTION) => {
                "cease: connection collision resolution"
            }
            (code::CEASE, _) => "cease",
            (code::ROUTE_REFRESH_MESSAGE, _) => "ROUTE-REFRESH message error",
            _ => "unknown error code",
        }
    }

    /// A Cease (code 6) with one of [`cease`]'s subcodes and no data.
    pub fn cease(subcode: u8) -> Self {
        Notification::new(code::CEASE, subcode, Vec::new())
    }
}

/// Error codes (RFC 4271 section 4.5; 7 from RFC 7313).
pub mod code {
    pub const MESSAGE_HEADER: u8 = 1;
    pub const OPEN_MESSAGE: u8 = 2;
    pub const UPDATE_MESSAGE: u8 = 3;
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    pub const FSM: u8 = 5;
    pub const CEASE: u8 = 6;
    pub const ROUTE_REFRESH_MESSAGE: u8 = 7;
}

/// Subcodes of [`code::MESSAGE_HEADER`] (RFC 4271 section 6.1).
pub mod header {
    pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
    /// Data: the erroneous Length field.
    pub const BAD_MESSAGE_LENGTH: u8 = 2;
    /// Data: the erroneous Type field.
    pub const BAD_MESSAGE_TYPE: u8 = 3;
}

/// Subcodes of [`code::OPEN_MESSAGE`] (RFC 4271 section 6.2, RFC 5492).
pub mod open {
    pub const UNSPECIFIC: u8 = 0;
    /// Data: the largest version we support, as two octets.
    pub const UNSUPPORTED_VERSION_NUMBER: u8 = 1;
    pub const BAD_PEER_AS: u8 = 2;
    pub const BAD_BGP_IDENTIFIER: u8 = 3;
    pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
    pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
    /// RFC 5492: data lists the capabilities that were required but not offered.
    pub const UNSUPPORTED_CAPABILITY: u8 = 7;
}

/// Subcodes of [`code::UPDATE_MESSAGE`] (RFC 4271 section 6.3).
pub mod update {
    pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
    pub const UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: u8 = 2;
    pub const MISSING_WELL_KNOWN_ATTRIBUTE: u8 = 3;
    pub const ATTRIBUTE_FLAGS_ERROR: u8 = 4;
    pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
    pub const INVALID_ORIGIN_ATTRIBUTE: u8 = 6;
    pub const INVALID_NEXT_HOP_ATTRIBUTE: u8 = 8;
    pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
    pub const INVALID_NETWORK_FIELD: u8 = 10;
    pub const MALFORMED_AS_PATH: u8 = 11;
}

/// Subcodes of [`code::FSM`] (RFC 6608).
pub mod fsm {
    pub const UNSPECIFIED: u8 = 0;
    pub const UNEXPECTED_IN_OPEN_SENT: u8 = 1;
    pub const UNEXPECTED_IN_OPEN_CONFIRM: u8 = 2;
    pub const UNEXPECTED_IN_ESTABLISHED: u8 = 3;
}

/// Subcodes of [`code::CEASE`] (RFC 4486).
pub mod cease {
    /// Data (optional): AFI (2), SAFI (1), prefix upper bound (4).
    pub const MAX_PREFIXES_REACHED: u8 = 1;
    pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
    pub const PEER_DECONFIGURED: u8 = 3;
    pub const ADMINISTRATIVE_RESET: u8 = 4;
    pub const CONNECTION_REJECTED: u8 = 5;
    pub const OTHER_CONFIGURATION_CHANGE: u8 = 6;
    pub const CONNECTION_COLLISION_RESOLUTION: u8 = 7;
    pub const OUT_OF_RESOURCES: u8 = 8;
}

/// Subcodes of [`code::ROUTE_REFRESH_MESSAGE`] (RFC 7313 section 5).
pub mod route_refresh {
    /// Data: the complete ROUTE-REFRESH message.
    pub const INVALID_MESSAGE_LENGTH: u8 = 1;
}
