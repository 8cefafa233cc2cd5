//! A handle table: C handles (`u64`) to shared entries, like corosync's `hdb`.
//!
//! A handle is `(check << 32) | index`. `check` is drawn from a counter for every insert, so a
//! finalized handle stays invalid even after its slot is reused (`CS_ERR_BAD_HANDLE`).
#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex, MutexGuard};

use quorumd_client::CsError;

#[derive(Debug)]
struct Slot<T> {
    check: u32,
    entry: Option<Arc<T>>,
}

/// The table.
#[derive(Debug)]
pub struct Handles<T> {
    slots: Mutex<(Vec<Slot<T>>, u32)>,
}

impl<T> Default for Handles<T> {
    fn default() -> Self {
        Handles::new()
    }
}

impl<T> Handles<T> {
    /// An empty table.
    pub const fn new() -> Handles<T> {
        Handles { slots: Mutex::new((Vec::new(), 0)) }
    }

    fn lock(&self) -> MutexGuard<'_, (Vec<Slot<T>>, u32)> {
        self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stores `entry` and returns its handle.
    pub fn insert(&self, entry: Arc<T>) -> u64 {
        let mut t = self.lock();
        t.1 = t.1.wrapping_add(0x9e37_79b9) | 1;
        let check = t.1;
        let index = match t.0.iter().position(|s| s.entry.is_none()) {
            Some(i) => {
                t.0[i] = Slot { check, entry: Some(entry) };
                i
            }
            None => {
                t.0.push(Slot { check, entry: Some(entry) });
                t.0.len() - 1
            }
        };
        (u64::from(check) << 32) | index as u64
    }

    /// A handle value that is not (and will not become) valid, for a failed initialize that
    /// must still write one (libquorum's `*handle`): a slot's check value is drawn and left
    /// without an entry, and the next insert into that slot draws another.
    pub fn dead(&self) -> u64 {
        let mut t = self.lock();
        t.1 = t.1.wrapping_add(0x9e37_79b9) | 1;
        let check = t.1;
        let index = match t.0.iter().position(|s| s.entry.is_none()) {
            Some(i) => {
                t.0[i].check = check;
                i
            }
            None => {
                t.0.push(Slot { check, entry: None });
                t.0.len() - 1
            }
        };
        (u64::from(check) << 32) | index as u64
    }

    /// The entry of `handle`.
    pub fn get(&self, handle: u64) -> Result<Arc<T>, CsError> {
        let (index, check) = (handle as u32 as usize, (handle >> 32) as u32);
        match self.lock().0.get(index) {
            Some(Slot { check: c, entry: Some(e) }) if *c == check => Ok(Arc::clone(e)),
            _ => Err(CsError::BadHandle),
        }
    }

    /// Removes `handle`; its entry lives on while calls still hold it.
    pub fn remove(&self, handle: u64) -> Result<Arc<T>, CsError> {
        let (index, check) = (handle as u32 as usize, (handle >> 32) as u32);
        let mut t = self.lock();
        match t.0.get_mut(index) {
            Some(slot) if slot.check == check && slot.entry.is_some() => {
                slot.entry.take().ok_or(CsError::BadHandle)
            }
            _ => Err(CsError::BadHandle),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_handles_stay_bad_after_reuse() {
        let t = Handles::new();
        let a = t.insert(Arc::new(1));
        assert_eq!(*t.get(a).unwrap(), 1);
        t.remove(a).unwrap();
        assert_eq!(t.get(a).unwrap_err(), CsError::BadHandle);
        let b = t.insert(Arc::new(2));
        assert_eq!(a as u32, b as u32, "the slot is reused");
        assert_eq!(t.get(a).unwrap_err(), CsError::BadHandle);
        assert_eq!(t.remove(a).unwrap_err(), CsError::BadHandle);
        assert_eq!(*t.get(b).unwrap(), 2);
    }

    #[test]
    fn a_dead_handle_is_refused_and_stays_refused_after_its_slot_is_used() {
        let t = Handles::new();
        let dead = t.dead();
        assert_eq!(t.get(dead).unwrap_err(), CsError::BadHandle);
        assert_eq!(t.remove(dead).unwrap_err(), CsError::BadHandle);
        let live = t.insert(Arc::new(7));
        assert_eq!(dead as u32, live as u32, "the slot is reused");
        assert_eq!(t.get(dead).unwrap_err(), CsError::BadHandle);
        assert_eq!(*t.get(live).unwrap(), 7);
    }
}
