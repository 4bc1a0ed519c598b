/// Why a policy was refused. Messages name the source, the rule (index and name) and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document does not parse, or a field has the wrong type; `path` is the field's path (`rule[1].address`).
    #[error("policy {source_name}: field `{path}`: {reason}")]
    Parse { source_name: String, path: String, reason: String },
    /// A rule parses but is not valid.
    #[error("policy {source_name}: rule {index} ({name}), field `{field}`: {reason}")]
    Rule { source_name: String, index: usize, name: String, field: &'static str, reason: String },
}
