//! The simulated directory: durable names, current names, and the unsynced creates,
//! renames and removes between them.
//!
//! Each name maps to an inode number. A pending operation records the inode it acted
//! on, so at a crash it can only persist if its source still means the same file (a
//! rename of a file whose create was lost does not persist).

use std::collections::BTreeMap;

/// An unsynced directory operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DirOp {
    Create { name: String, ino: u64 },
    Remove { name: String, ino: u64 },
    Rename { from: String, to: String, ino: u64 },
}

/// Applies `op` to `names` if its precondition holds there; returns whether it did.
pub(super) fn apply_dir_op(names: &mut BTreeMap<String, u64>, op: &DirOp) -> bool {
    match op {
        DirOp::Create { name, ino } => {
            names.insert(name.clone(), *ino);
            true
        }
        DirOp::Remove { name, ino } => {
            let holds = names.get(name) == Some(ino);
            if holds {
                names.remove(name);
            }
            holds
        }
        DirOp::Rename { from, to, ino } => {
            let holds = names.get(from) == Some(ino);
            if holds {
                names.remove(from);
                names.insert(to.clone(), *ino);
            }
            holds
        }
    }
}

/// The directory of one simulated storage.
#[derive(Debug, Clone, Default)]
pub(super) struct Directory {
    pub(super) durable: BTreeMap<String, u64>,
    pub(super) current: BTreeMap<String, u64>,
    pub(super) pending: Vec<DirOp>,
}

impl Directory {
    /// A directory whose durable and current names are `names`.
    pub(super) fn from_names(names: BTreeMap<String, u64>) -> Directory {
        Directory {
            current: names.clone(),
            durable: names,
            pending: Vec::new(),
        }
    }

    pub(super) fn lookup(&self, name: &str) -> Option<u64> {
        self.current.get(name).copied()
    }

    /// Performs `op` on the current view and remembers it as pending.
    pub(super) fn perform(&mut self, op: DirOp) {
        let applied = apply_dir_op(&mut self.current, &op);
        assert!(applied, "caller checked the precondition of {op:?}");
        self.pending.push(op);
    }

    /// Makes every pending operation durable, in order.
    pub(super) fn sync(&mut self) {
        for op in self.pending.drain(..) {
            apply_dir_op(&mut self.durable, &op);
        }
    }

    /// fsyncgate for the directory: pending operations are forgotten.
    pub(super) fn drop_pending(&mut self) {
        self.pending.clear();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn rename_of_a_file_whose_create_was_lost_does_not_apply() {
        let mut names = BTreeMap::new();
        let rename = DirOp::Rename {
            from: "tmp".into(),
            to: "snap".into(),
            ino: 7,
        };
        assert!(!apply_dir_op(&mut names, &rename));
        assert!(names.is_empty());
        let create = DirOp::Create {
            name: "tmp".into(),
            ino: 7,
        };
        assert!(apply_dir_op(&mut names, &create));
        assert!(apply_dir_op(&mut names, &rename));
        assert_eq!(names.get("snap"), Some(&7));
        assert!(!names.contains_key("tmp"));
    }

    #[test]
    fn remove_only_applies_to_the_same_file() {
        let mut names = BTreeMap::from([("a".to_string(), 2_u64)]);
        let stale = DirOp::Remove {
            name: "a".into(),
            ino: 1,
        };
        assert!(!apply_dir_op(&mut names, &stale));
        assert_eq!(names.get("a"), Some(&2));
    }
}
