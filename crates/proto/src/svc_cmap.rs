//! The cmap service's IPC vocabulary (service 2 of [`crate::svc`]): the typed value, the
//! requests, responses and the track notification. Built and read with the one bounded codec
//! of [`crate::svc`].

use crate::ipc::IpcError;
use crate::svc::{Dir, Reader, Service, Writer, INIT_ID};

/// Longest key name (corosync's `CMAP_KEYNAME_MAXLEN`).
pub const KEYNAME_MAX: usize = 255;
/// Shortest key name (`CMAP_KEYNAME_MINLEN`).
pub const KEYNAME_MIN: usize = 3;
/// Largest value in bytes (a string's terminating NUL included): corosync's
/// `ICMAP_MAX_VALUE_LEN`; a larger one is `CS_ERR_INVALID_PARAM`. A notification carrying an
/// old and a new value of this size still fits one frame.
pub const VALUE_MAX: usize = 16 * 1024;

/// `CMAP_TRACK_*`.
pub mod track {
    /// A key was deleted.
    pub const DELETE: u32 = 1;
    /// A key's value changed.
    pub const MODIFY: u32 = 2;
    /// A key was added.
    pub const ADD: u32 = 4;
    /// The track's key is a prefix.
    pub const PREFIX: u32 = 8;
}

/// A typed value (`cmap_value_types_t` numbers in [`CmapValue::type_code`]).
#[derive(Clone, Debug, PartialEq)]
pub enum CmapValue {
    /// `CMAP_VALUETYPE_INT8` (1).
    I8(i8),
    /// `UINT8` (2).
    U8(u8),
    /// `INT16` (3).
    I16(i16),
    /// `UINT16` (4).
    U16(u16),
    /// `INT32` (5).
    I32(i32),
    /// `UINT32` (6).
    U32(u32),
    /// `INT64` (7).
    I64(i64),
    /// `UINT64` (8).
    U64(u64),
    /// `FLOAT` (9).
    Float(f32),
    /// `DOUBLE` (10).
    Double(f64),
    /// `STRING` (11), without its NUL.
    String(String),
    /// `BINARY` (12).
    Binary(Vec<u8>),
}

impl CmapValue {
    /// The `cmap_value_types_t` number.
    pub fn type_code(&self) -> u8 {
        match self {
            CmapValue::I8(_) => 1,
            CmapValue::U8(_) => 2,
            CmapValue::I16(_) => 3,
            CmapValue::U16(_) => 4,
            CmapValue::I32(_) => 5,
            CmapValue::U32(_) => 6,
            CmapValue::I64(_) => 7,
            CmapValue::U64(_) => 8,
            CmapValue::Float(_) => 9,
            CmapValue::Double(_) => 10,
            CmapValue::String(_) => 11,
            CmapValue::Binary(_) => 12,
        }
    }

    /// The value's bytes in host order, as the C API hands them out (a string with its NUL).
    pub fn to_ne_bytes(&self) -> Vec<u8> {
        match self {
            CmapValue::I8(v) => v.to_ne_bytes().to_vec(),
            CmapValue::U8(v) => v.to_ne_bytes().to_vec(),
            CmapValue::I16(v) => v.to_ne_bytes().to_vec(),
            CmapValue::U16(v) => v.to_ne_bytes().to_vec(),
            CmapValue::I32(v) => v.to_ne_bytes().to_vec(),
            CmapValue::U32(v) => v.to_ne_bytes().to_vec(),
            CmapValue::I64(v) => v.to_ne_bytes().to_vec(),
            CmapValue::U64(v) => v.to_ne_bytes().to_vec(),
            CmapValue::Float(v) => v.to_ne_bytes().to_vec(),
            CmapValue::Double(v) => v.to_ne_bytes().to_vec(),
            CmapValue::String(s) => {
                let mut b = s.as_bytes().to_vec();
                b.push(0);
                b
            }
            CmapValue::Binary(b) => b.clone(),
        }
    }

    /// The value's length as the C API reports it (a string's NUL included).
    pub fn len(&self) -> usize {
        match self {
            CmapValue::I8(_) | CmapValue::U8(_) => 1,
            CmapValue::I16(_) | CmapValue::U16(_) => 2,
            CmapValue::I32(_) | CmapValue::U32(_) | CmapValue::Float(_) => 4,
            CmapValue::I64(_) | CmapValue::U64(_) | CmapValue::Double(_) => 8,
            CmapValue::String(s) => s.len() + 1,
            CmapValue::Binary(b) => b.len(),
        }
    }

    /// Whether the value has no bytes (only an empty binary).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A value from host-order bytes, as `cmap_set` receives them: numbers need at least
    /// their size (more is ignored, as corosync copies only the type's size); a string ends
    /// at its first NUL or at `bytes`' end. `None`: unknown type, too short, not UTF-8, or
    /// larger than [`VALUE_MAX`].
    pub fn from_ne_bytes(type_code: u8, bytes: &[u8]) -> Option<CmapValue> {
        fn arr<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
            b.get(..N)?.try_into().ok()
        }
        if bytes.len() > VALUE_MAX {
            return None;
        }
        Some(match type_code {
            1 => CmapValue::I8(i8::from_ne_bytes(arr(bytes)?)),
            2 => CmapValue::U8(u8::from_ne_bytes(arr(bytes)?)),
            3 => CmapValue::I16(i16::from_ne_bytes(arr(bytes)?)),
            4 => CmapValue::U16(u16::from_ne_bytes(arr(bytes)?)),
            5 => CmapValue::I32(i32::from_ne_bytes(arr(bytes)?)),
            6 => CmapValue::U32(u32::from_ne_bytes(arr(bytes)?)),
            7 => CmapValue::I64(i64::from_ne_bytes(arr(bytes)?)),
            8 => CmapValue::U64(u64::from_ne_bytes(arr(bytes)?)),
            9 => CmapValue::Float(f32::from_ne_bytes(arr(bytes)?)),
            10 => CmapValue::Double(f64::from_ne_bytes(arr(bytes)?)),
            11 => {
                let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
                if end + 1 > VALUE_MAX {
                    return None;
                }
                CmapValue::String(String::from_utf8(bytes[..end].to_vec()).ok()?)
            }
            12 => CmapValue::Binary(bytes.to_vec()),
            _ => return None,
        })
    }

    fn write(&self, w: &mut Writer) {
        w.u8(self.type_code());
        match self {
            CmapValue::I8(v) => w.u8(*v as u8),
            CmapValue::U8(v) => w.u8(*v),
            CmapValue::I16(v) => w.u32(*v as u16 as u32),
            CmapValue::U16(v) => w.u32(u32::from(*v)),
            CmapValue::I32(v) => w.u32(*v as u32),
            CmapValue::U32(v) => w.u32(*v),
            CmapValue::I64(v) => w.u64(*v as u64),
            CmapValue::U64(v) => w.u64(*v),
            CmapValue::Float(v) => w.u32(v.to_bits()),
            CmapValue::Double(v) => w.u64(v.to_bits()),
            CmapValue::String(s) => w.str(s),
            CmapValue::Binary(b) => w.bytes(b),
        };
    }

    fn read(r: &mut Reader<'_>) -> Result<CmapValue, IpcError> {
        let t = r.u8()?;
        Ok(match t {
            1 => CmapValue::I8(r.u8()? as i8),
            2 => CmapValue::U8(r.u8()?),
            3 => CmapValue::I16(r.u32()? as u16 as i16),
            4 => CmapValue::U16(u16::try_from(r.u32()?).map_err(|_| IpcError::BadText)?),
            5 => CmapValue::I32(r.u32()? as i32),
            6 => CmapValue::U32(r.u32()?),
            7 => CmapValue::I64(r.u64()? as i64),
            8 => CmapValue::U64(r.u64()?),
            9 => CmapValue::Float(f32::from_bits(r.u32()?)),
            10 => CmapValue::Double(f64::from_bits(r.u64()?)),
            11 => CmapValue::String(r.str(VALUE_MAX - 1)?),
            12 => CmapValue::Binary(r.bytes(VALUE_MAX)?.to_vec()),
            t => return Err(IpcError::Unknown { kind: Service::Cmap as u8, id: u16::from(t) }),
        })
    }
}

/// Client → daemon.
#[derive(Clone, Debug, PartialEq)]
pub enum CmapRequest {
    /// Open a session on a map (`CMAP_MAP_DEFAULT` 0, `CMAP_MAP_STATS` 1).
    Init {
        /// `cmap_map_t`.
        map: u32,
    },
    /// `cmap_get`.
    Get {
        /// Key.
        key: String,
    },
    /// `cmap_set`.
    Set {
        /// Key.
        key: String,
        /// Value.
        value: CmapValue,
    },
    /// `cmap_delete`.
    Delete {
        /// Key.
        key: String,
    },
    /// `cmap_inc` / `cmap_dec`: add `step` to an integer key.
    Adjust {
        /// Key.
        key: String,
        /// +1 or -1.
        step: i32,
    },
    /// `cmap_iter_init`.
    IterInit {
        /// Prefix ("" for all).
        prefix: String,
    },
    /// `cmap_iter_next`.
    IterNext {
        /// Iterator.
        iter: u64,
    },
    /// `cmap_iter_finalize`.
    IterFinalize {
        /// Iterator.
        iter: u64,
    },
    /// `cmap_track_add`.
    TrackAdd {
        /// Key or prefix.
        key: String,
        /// `CMAP_TRACK_*` bits.
        flags: u32,
    },
    /// `cmap_track_delete`.
    TrackDelete {
        /// Track.
        track: u64,
    },
}

/// Daemon → client.
#[derive(Clone, Debug, PartialEq)]
pub enum CmapResponse {
    /// To `Init`.
    Init {
        /// `cs_error_t`.
        error: u32,
    },
    /// To `Get`.
    Get {
        /// `cs_error_t`.
        error: u32,
        /// The value when found.
        value: Option<CmapValue>,
    },
    /// To `Set`, `Delete`, `Adjust`, `IterFinalize`, `TrackDelete`.
    Result {
        /// `cs_error_t`.
        error: u32,
    },
    /// To `IterInit`.
    IterInit {
        /// `cs_error_t`.
        error: u32,
        /// The iterator.
        iter: u64,
    },
    /// To `IterNext`: `CS_ERR_NO_SECTIONS` at the end.
    IterNext {
        /// `cs_error_t`.
        error: u32,
        /// The key.
        key: String,
        /// Its value's length (C API length).
        value_len: u64,
        /// Its type.
        type_code: u8,
    },
    /// To `TrackAdd`.
    TrackAdd {
        /// `cs_error_t`.
        error: u32,
        /// The track.
        track: u64,
    },
}

/// Daemon → client, on the event socket: a tracked key changed.
#[derive(Clone, Debug, PartialEq)]
pub struct CmapNotify {
    /// The track it matched.
    pub track: u64,
    /// `CMAP_TRACK_ADD`, `DELETE` or `MODIFY`.
    pub event: u32,
    /// The key.
    pub key: String,
    /// The new value (none for a delete).
    pub new: Option<CmapValue>,
    /// The old value (none for an add).
    pub old: Option<CmapValue>,
}

fn opt_value(w: &mut Writer, v: &Option<CmapValue>) {
    match v {
        None => w.u8(0),
        Some(v) => {
            w.u8(1);
            v.write(w);
            w
        }
    };
}

fn read_opt_value(r: &mut Reader<'_>) -> Result<Option<CmapValue>, IpcError> {
    match r.u8()? {
        0 => Ok(None),
        _ => CmapValue::read(r).map(Some),
    }
}

impl CmapRequest {
    /// The frame.
    pub fn encode(&self) -> Result<Vec<u8>, IpcError> {
        let id = match self {
            CmapRequest::Init { .. } => INIT_ID,
            CmapRequest::Get { .. } => 2,
            CmapRequest::Set { .. } => 3,
            CmapRequest::Delete { .. } => 4,
            CmapRequest::Adjust { .. } => 5,
            CmapRequest::IterInit { .. } => 6,
            CmapRequest::IterNext { .. } => 7,
            CmapRequest::IterFinalize { .. } => 8,
            CmapRequest::TrackAdd { .. } => 9,
            CmapRequest::TrackDelete { .. } => 10,
        };
        let mut w = Writer::new(Service::Cmap, Dir::Request, id);
        match self {
            CmapRequest::Init { map } => w.u32(*map),
            CmapRequest::Get { key } | CmapRequest::Delete { key } => w.str(key),
            CmapRequest::Set { key, value } => {
                w.str(key);
                value.write(&mut w);
                &mut w
            }
            CmapRequest::Adjust { key, step } => w.str(key).u32(*step as u32),
            CmapRequest::IterInit { prefix } => w.str(prefix),
            CmapRequest::IterNext { iter } | CmapRequest::IterFinalize { iter } => w.u64(*iter),
            CmapRequest::TrackAdd { key, flags } => w.str(key).u32(*flags),
            CmapRequest::TrackDelete { track } => w.u64(*track),
        };
        w.finish()
    }

    /// Reads a request frame (key names are bounded by [`KEYNAME_MAX`]; the service checks
    /// the rest).
    pub fn decode(frame: &[u8]) -> Result<CmapRequest, IpcError> {
        let (mut r, service, dir, id) = Reader::open(frame)?;
        if (service, dir) != (Service::Cmap, Dir::Request) {
            return Err(IpcError::Unknown { kind: frame[5], id });
        }
        let k = KEYNAME_MAX;
        let req = match id {
            INIT_ID => CmapRequest::Init { map: r.u32()? },
            2 => CmapRequest::Get { key: r.str(k)? },
            3 => CmapRequest::Set { key: r.str(k)?, value: CmapValue::read(&mut r)? },
            4 => CmapRequest::Delete { key: r.str(k)? },
            5 => CmapRequest::Adjust { key: r.str(k)?, step: r.u32()? as i32 },
            6 => CmapRequest::IterInit { prefix: r.str(k)? },
            7 => CmapRequest::IterNext { iter: r.u64()? },
            8 => CmapRequest::IterFinalize { iter: r.u64()? },
            9 => CmapRequest::TrackAdd { key: r.str(k)?, flags: r.u32()? },
            10 => CmapRequest::TrackDelete { track: r.u64()? },
            id => return Err(IpcError::Unknown { kind: frame[5], id }),
        };
        r.end()?;
        Ok(req)
    }
}

impl CmapResponse {
    /// The frame.
    pub fn encode(&self) -> Result<Vec<u8>, IpcError> {
        let id = match self {
            CmapResponse::Init { .. } => INIT_ID,
            CmapResponse::Get { .. } => 2,
            CmapResponse::Result { .. } => 3,
            CmapResponse::IterInit { .. } => 6,
            CmapResponse::IterNext { .. } => 7,
            CmapResponse::TrackAdd { .. } => 9,
        };
        let mut w = Writer::new(Service::Cmap, Dir::Response, id);
        match self {
            CmapResponse::Init { error } | CmapResponse::Result { error } => w.u32(*error),
            CmapResponse::Get { error, value } => {
                w.u32(*error);
                opt_value(&mut w, value);
                &mut w
            }
            CmapResponse::IterInit { error, iter } => w.u32(*error).u64(*iter),
            CmapResponse::IterNext { error, key, value_len, type_code } => {
                w.u32(*error).str(key).u64(*value_len).u8(*type_code)
            }
            CmapResponse::TrackAdd { error, track } => w.u32(*error).u64(*track),
        };
        w.finish()
    }

    /// Reads a response frame.
    pub fn decode(frame: &[u8]) -> Result<CmapResponse, IpcError> {
        let (mut r, service, dir, id) = Reader::open(frame)?;
        if (service, dir) != (Service::Cmap, Dir::Response) {
            return Err(IpcError::Unknown { kind: frame[5], id });
        }
        let resp = match id {
            INIT_ID => CmapResponse::Init { error: r.u32()? },
            2 => CmapResponse::Get { error: r.u32()?, value: read_opt_value(&mut r)? },
            3 => CmapResponse::Result { error: r.u32()? },
            6 => CmapResponse::IterInit { error: r.u32()?, iter: r.u64()? },
            7 => CmapResponse::IterNext {
                error: r.u32()?,
                key: r.str(KEYNAME_MAX)?,
                value_len: r.u64()?,
                type_code: r.u8()?,
            },
            9 => CmapResponse::TrackAdd { error: r.u32()?, track: r.u64()? },
            id => return Err(IpcError::Unknown { kind: frame[5], id }),
        };
        r.end()?;
        Ok(resp)
    }
}

impl CmapNotify {
    /// The event frame.
    pub fn encode(&self) -> Result<Vec<u8>, IpcError> {
        let mut w = Writer::new(Service::Cmap, Dir::Event, 1);
        w.u64(self.track).u32(self.event).str(&self.key);
        opt_value(&mut w, &self.new);
        opt_value(&mut w, &self.old);
        w.finish()
    }

    /// Reads an event frame.
    pub fn decode(frame: &[u8]) -> Result<CmapNotify, IpcError> {
        let (mut r, service, dir, id) = Reader::open(frame)?;
        if (service, dir, id) != (Service::Cmap, Dir::Event, 1) {
            return Err(IpcError::Unknown { kind: frame[5], id });
        }
        let n = CmapNotify {
            track: r.u64()?,
            event: r.u32()?,
            key: r.str(KEYNAME_MAX)?,
            new: read_opt_value(&mut r)?,
            old: read_opt_value(&mut r)?,
        };
        r.end()?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = CmapValue> {
        prop_oneof![
            any::<i8>().prop_map(CmapValue::I8),
            any::<u8>().prop_map(CmapValue::U8),
            any::<i16>().prop_map(CmapValue::I16),
            any::<u16>().prop_map(CmapValue::U16),
            any::<i32>().prop_map(CmapValue::I32),
            any::<u32>().prop_map(CmapValue::U32),
            any::<i64>().prop_map(CmapValue::I64),
            any::<u64>().prop_map(CmapValue::U64),
            (-1e30f32..1e30).prop_map(CmapValue::Float),
            (-1e300f64..1e300).prop_map(CmapValue::Double),
            "[a-z ]{0,40}".prop_map(CmapValue::String),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(CmapValue::Binary),
        ]
    }

    proptest! {
        #[test]
        fn values_round_trip(v in value(), key in "[a-z.]{3,30}", track in any::<u64>()) {
            let f = CmapRequest::Set { key: key.clone(), value: v.clone() }.encode().unwrap();
            prop_assert_eq!(CmapRequest::decode(&f).unwrap(), CmapRequest::Set { key: key.clone(), value: v.clone() });
            let n = CmapNotify { track, event: track::MODIFY, key, new: Some(v.clone()), old: None };
            prop_assert_eq!(CmapNotify::decode(&n.encode().unwrap()).unwrap(), n);
            prop_assert_eq!(CmapValue::from_ne_bytes(v.type_code(), &v.to_ne_bytes()), Some(v.clone()));
            prop_assert_eq!(v.to_ne_bytes().len(), v.len());
        }

        #[test]
        fn garbage_never_panics(body in proptest::collection::vec(any::<u8>(), 0..80), id in 1u16..12) {
            let mut w = Writer::new(Service::Cmap, Dir::Request, id);
            for b in &body { w.u8(*b); }
            let f = w.finish().unwrap();
            let _ = CmapRequest::decode(&f);
        }
    }

    #[test]
    fn short_numbers_and_oversized_values_are_refused() {
        assert_eq!(CmapValue::from_ne_bytes(6, &[1, 2]), None);
        assert_eq!(CmapValue::from_ne_bytes(13, &[1]), None);
        assert_eq!(CmapValue::from_ne_bytes(12, &vec![0; VALUE_MAX + 1]), None);
        assert_eq!(CmapValue::from_ne_bytes(11, b"abc\0def"), Some(CmapValue::String("abc".into())));
    }
}
