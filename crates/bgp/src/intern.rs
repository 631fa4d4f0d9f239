//! Values many RIB entries share, stored once and named by a small number: the path
//! attributes of one UPDATE are the same for every prefix it carries, and most prefixes
//! end with the same next hops. At 100,000 routes this is what keeps the RIB to a few
//! bytes per prefix instead of a copy of every value.

use std::collections::HashMap;
use std::hash::Hash;

/// A value's number in its [`Interner`]; valid while a reference to it is held.
pub type Id = u32;

#[derive(Debug)]
pub struct Interner<T> {
    /// Each value with the number of references to it; a free slot holds None.
    slots: Vec<Option<(T, u32)>>,
    ids: HashMap<T, Id>,
    free: Vec<Id>,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            slots: Vec::new(),
            ids: HashMap::new(),
            free: Vec::new(),
        }
    }
}

impl<T: Hash + Eq + Clone> Interner<T> {
    /// The value's number, one more reference to it held.
    pub fn acquire(&mut self, value: &T) -> Id {
        if let Some(&id) = self.ids.get(value) {
            if let Some((_, count)) = self.slots[id as usize].as_mut() {
                *count += 1;
            }
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some((value.clone(), 1));
                id
            }
            None => {
                self.slots.push(Some((value.clone(), 1)));
                (self.slots.len() - 1) as Id
            }
        };
        self.ids.insert(value.clone(), id);
        id
    }

    /// One more reference to the value `id` names (a number not in use is left alone).
    pub fn hold(&mut self, id: Id) {
        if let Some(Some((_, count))) = self.slots.get_mut(id as usize) {
            *count += 1;
        }
    }

    /// Drops one reference; the value goes with its last.
    pub fn release(&mut self, id: Id) {
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return;
        };
        let last = match slot.as_mut() {
            Some((_, count)) => {
                *count -= 1;
                *count == 0
            }
            None => false,
        };
        if last {
            if let Some((value, _)) = slot.take() {
                self.ids.remove(&value);
            }
            self.free.push(id);
        }
    }

    pub fn get(&self, id: Id) -> Option<&T> {
        self.slots
            .get(id as usize)
            .and_then(|s| s.as_ref())
            .map(|(v, _)| v)
    }

    /// How many distinct values are held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_lives_while_referenced_and_its_slot_is_reused() {
        let mut interner = Interner::default();
        let a = interner.acquire(&"a".to_string());
        assert_eq!(interner.acquire(&"a".to_string()), a);
        let b = interner.acquire(&"b".to_string());
        assert_ne!(a, b);
        interner.release(a);
        assert_eq!(interner.get(a).map(String::as_str), Some("a"));
        interner.release(a);
        assert_eq!(interner.get(a), None);
        assert_eq!(interner.len(), 1);
        let c = interner.acquire(&"c".to_string());
        assert_eq!(c, a, "the freed slot is used again");
        interner.release(b);
        interner.release(c);
        assert!(interner.is_empty());
    }
}
