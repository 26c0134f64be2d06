//! What the chains of a `pipeline!` become once checked: the main line,
//! with a branch or a join's inputs; and the error sink the checks report to.

use syn::Ident;

use crate::ast::StageInput;
use crate::stages::Kind;

/// The chains as the runtime runs them: the main line, and a branch that
/// leaves it after stage `at` (the named stream's last).
pub struct Lines {
    pub main: Vec<StageInput>,
    pub branch: Option<BranchInput>,
    /// The inputs of a `join(a, b)` the main line starts with.
    pub join: Option<JoinInputs>,
}

/// A branch's chain: where it leaves the main line, the name it reads
/// (for spans), and its stages.
pub struct BranchInput {
    pub at: usize,
    pub head: Ident,
    pub stages: Vec<StageInput>,
}

/// Collects errors; see `valid::Errors`.
pub trait Report {
    fn at(&mut self, tokens: &dyn quote::ToTokens, message: String);
}

/// A join's inputs: each named stream's stages, from its `source`.
pub struct JoinInputs {
    pub left: Vec<StageInput>,
    pub right: Vec<StageInput>,
}

/// A chain's first stage of kind `kind`, if any.
pub fn first_of(stages: &[StageInput], kind: Kind) -> Option<&StageInput> {
    (stages.iter()).find(|s| Kind::named(&s.name.to_string()) == Some(kind))
}
