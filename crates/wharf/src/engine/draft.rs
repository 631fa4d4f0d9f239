//! A change being decided: a copy of the state (free to take: its maps are persistent) that
//! each recorded [`Change`] is applied to at once, so later decisions of the same request see
//! the earlier ones, and the list of those changes, which is what gets committed.

use crate::model::{Change, Misfit, State};

#[derive(Debug, Clone)]
pub struct Draft {
    state: State,
    changes: Vec<Change>,
}

impl Draft {
    pub fn new(state: State) -> Draft {
        Draft {
            state,
            changes: Vec::new(),
        }
    }

    /// The state as it would be with the changes recorded so far.
    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn record(&mut self, change: Change) -> Result<(), Misfit> {
        self.state.apply(&change)?;
        self.changes.push(change);
        Ok(())
    }

    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    pub fn into_parts(self) -> (State, Vec<Change>) {
        (self.state, self.changes)
    }
}
