//! What `pipeline!` asks of a parameter that several stages use: each
//! stage gets its own copy, so it must be `Clone`. A parameter that one
//! stage uses is moved into it and needs nothing.

/// A `pipeline!` parameter used by more than one stage.
#[diagnostic::on_unimplemented(
    message = "the pipeline parameter of type `{Self}` is used by more than one stage, so each needs its own copy, and `{Self}` is not `Clone`",
    label = "this stage uses it too",
    note = "a parameter used by one stage only is moved into it: use `{Self}` in one stage (such as `source(my_source)`), or pass a `Clone` value (an `Arc`, or the settings the stages build it from)"
)]
pub trait SharedParameter: Clone {}

impl<T: Clone> SharedParameter for T {}

/// A copy of a parameter for one more stage that uses it.
pub fn copy_for_stage<T: SharedParameter>(parameter: &T) -> T {
    parameter.clone()
}
