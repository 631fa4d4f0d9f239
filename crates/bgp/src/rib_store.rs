//! How the RIB keeps its paths, so that 100,000 prefixes cost little memory at their peak,
//! not only once they are in:
//! - [`Sharded`]: a prefix table split in [`SHARDS`] hash tables. A hash table grows by
//!   doubling, holding the old and the new array at once; one table of 100,000 IPv4 prefixes
//!   briefly held 1.6 MB more than itself while it grew. Split, each part grows on its own
//!   and the extra is a 64th of that.
//! - [`Paths`]: a prefix's paths in 8 bytes. Nearly every prefix has one path, kept inline;
//!   a prefix with more names a set in [`PathSets`].

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::Hash;

use ipnet::{Ipv4Net, Ipv6Net};

use crate::intern::Id;

/// Parts of a [`Sharded`] table: enough that one part's growth is small beside the whole,
/// few enough that an empty RIB stays small (an empty part allocates nothing).
pub const SHARDS: usize = 64;

/// A key's part in a [`Sharded`] table, from its own bits (the parts' hash tables hash it
/// again, with their own random keys; a peer choosing prefixes that all fall in one part
/// only loses the smaller growth, nothing else).
pub trait ShardKey: Eq + Hash + Copy {
    fn shard(&self) -> usize;
}

impl ShardKey for Ipv4Net {
    fn shard(&self) -> usize {
        let bits = u32::from(self.addr()) ^ u32::from(self.prefix_len()).rotate_right(8);
        // Fibonacci hashing: the top bits of the product depend on every bit of the key.
        (bits.wrapping_mul(0x9E37_79B9) >> (32 - SHARDS.trailing_zeros())) as usize
    }
}

impl ShardKey for Ipv6Net {
    fn shard(&self) -> usize {
        let bits = u128::from(self.addr());
        let folded = (bits as u64) ^ ((bits >> 64) as u64) ^ u64::from(self.prefix_len());
        (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SHARDS.trailing_zeros())) as usize
    }
}

/// A hash map split in [`SHARDS`] parts by [`ShardKey::shard`].
#[derive(Debug)]
pub struct Sharded<K, V> {
    parts: Vec<HashMap<K, V>>,
}

impl<K: ShardKey, V> Default for Sharded<K, V> {
    fn default() -> Self {
        Sharded {
            parts: (0..SHARDS).map(|_| HashMap::new()).collect(),
        }
    }
}

impl<K: ShardKey, V> Sharded<K, V> {
    pub fn get(&self, key: &K) -> Option<&V> {
        self.parts[key.shard()].get(key)
    }

    /// The key's slot, found with one hash.
    pub fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        self.parts[key.shard()].entry(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.parts.iter().flatten()
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.iter().map(|(key, _)| key)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.parts.iter_mut().flat_map(HashMap::values_mut)
    }

    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(HashMap::is_empty)
    }
}

/// One peer's path to a prefix as the RIB keeps it: its attributes by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathRef {
    pub attributes: Id,
    pub peer: u16,
    pub stale: bool,
}

/// A prefix's paths: one inline, or the number of a set of two or more in [`PathSets`]. The
/// two fit in 8 bytes: the compiler tells them apart by the values `stale` cannot take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paths {
    One(PathRef),
    Many(u32),
}

/// The path sets of prefixes with more than one path, numbered; a freed number is used again.
#[derive(Debug, Default)]
pub struct PathSets {
    sets: Vec<Box<[PathRef]>>,
    free: Vec<u32>,
}

impl PathSets {
    pub fn slice<'a>(&'a self, paths: &'a Paths) -> &'a [PathRef] {
        match paths {
            Paths::One(one) => std::slice::from_ref(one),
            Paths::Many(number) => self.sets.get(*number as usize).map_or(&[], |set| set),
        }
    }

    pub fn slice_mut<'a>(&'a mut self, paths: &'a mut Paths) -> &'a mut [PathRef] {
        match paths {
            Paths::One(one) => std::slice::from_mut(one),
            Paths::Many(number) => self
                .sets
                .get_mut(*number as usize)
                .map_or(&mut [], |set| set),
        }
    }

    /// Sets `path.peer`'s path in `paths`; the one it replaces.
    pub fn set(&mut self, paths: &mut Paths, path: PathRef) -> Option<PathRef> {
        if let Some(old) = self
            .slice_mut(paths)
            .iter_mut()
            .find(|p| p.peer == path.peer)
        {
            return Some(std::mem::replace(old, path));
        }
        let mut all = self.slice(paths).to_vec();
        all.push(path);
        self.release(*paths);
        *paths = self.hold(all);
        None
    }

    /// Removes `peer`'s path from `paths`: the removed path and what is left (None: nothing).
    pub fn remove(&mut self, paths: Paths, peer: u16) -> (Option<PathRef>, Option<Paths>) {
        let all = self.slice(&paths);
        let Some(removed) = all.iter().find(|p| p.peer == peer).copied() else {
            return (None, Some(paths));
        };
        let rest: Vec<PathRef> = all.iter().filter(|p| p.peer != peer).copied().collect();
        self.release(paths);
        let left = match rest.as_slice() {
            [] => None,
            [one] => Some(Paths::One(*one)),
            _ => Some(self.hold(rest)),
        };
        (Some(removed), left)
    }

    /// How many sets are held (for tests: every set freed when its prefix goes).
    pub fn held(&self) -> usize {
        self.sets.len() - self.free.len()
    }

    fn hold(&mut self, all: Vec<PathRef>) -> Paths {
        let set = all.into_boxed_slice();
        match self.free.pop() {
            Some(number) => {
                self.sets[number as usize] = set;
                Paths::Many(number)
            }
            None => {
                // More than 4 billion sets would need more than 64 GB: not reachable.
                let number = u32::try_from(self.sets.len()).unwrap_or(u32::MAX);
                self.sets.push(set);
                Paths::Many(number)
            }
        }
    }

    fn release(&mut self, paths: Paths) {
        if let Paths::Many(number) = paths {
            if let Some(set) = self.sets.get_mut(number as usize) {
                *set = Box::default();
                self.free.push(number);
            }
        }
    }
}
